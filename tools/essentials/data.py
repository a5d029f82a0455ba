"""Data tools: ``json_query`` (JMESPath with a work and size budget), ``hash_text``, ``base64`` and ``uuid``."""

from __future__ import annotations

import base64 as b64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import time as _time
import uuid as _uuid
from typing import Annotated, Any, Literal

import jmespath
import jmespath.exceptions
import jmespath.functions
import jmespath.visitor
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ._common import (
    JSON_QUERY_SECONDS,
    MAX_EXPRESSION_CHARS,
    MAX_JSON_VISITS,
    MAX_JSON_WEIGHT,
    MAX_TEXT_CHARS,
    MAX_UUIDS,
    _LimitError,
)

# --------------------------------------------------------------------------------------
# JSON query (JMESPath with a work and size budget)
# --------------------------------------------------------------------------------------


class _NonFiniteError(Exception):
    pass


class _Budget:
    def __init__(self) -> None:
        self.visits = 0
        self.deadline = _time.monotonic() + JSON_QUERY_SECONDS
        self._weights: dict[int, tuple[Any, int]] = {}

    def tick(self) -> None:
        self.visits += 1
        if self.visits > MAX_JSON_VISITS:
            raise _LimitError("the query does too much work")
        if self.visits & 1023 == 0 and _time.monotonic() > self.deadline:
            raise _LimitError(f"the query ran longer than {JSON_QUERY_SECONDS:g} s")

    def weight(self, value: Any) -> int:
        """Approximate serialized size, counting every repeated reference in full."""
        if isinstance(value, str):
            return len(value) + 2
        if not isinstance(value, list | dict):
            if isinstance(value, float) and not math.isfinite(value):
                raise _NonFiniteError
            return 8
        cached = self._weights.get(id(value))
        if cached is not None and cached[0] is value:
            return cached[1]
        if isinstance(value, list):
            total = 2 + sum(self.weight(item) + 1 for item in value)
        else:
            total = 2 + sum(len(str(key)) + 4 + self.weight(item) for key, item in value.items())
        self._weights[id(value)] = (value, total)  # keep value alive so its id cannot be reused
        if total > MAX_JSON_WEIGHT:
            raise _LimitError(f"a value would exceed {MAX_JSON_WEIGHT:,} characters")
        return total


class _SafeFunctions(jmespath.functions.Functions):
    """JMESPath built-ins, with the one that can build strings from nothing bounded."""

    @jmespath.functions.signature({"types": ["string"]}, {"types": ["array-string"]})
    def _func_join(self, separator: str, array: list[str]) -> str:
        size = sum(len(item) for item in array) + len(separator) * max(len(array) - 1, 0)
        if size > MAX_JSON_WEIGHT:
            raise _LimitError(f"join() would build more than {MAX_JSON_WEIGHT:,} characters")
        return separator.join(array)


class _SafeInterpreter(jmespath.visitor.TreeInterpreter):
    def __init__(self, budget: _Budget) -> None:
        super().__init__(jmespath.visitor.Options(custom_functions=_SafeFunctions()))
        self._budget = budget

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self._budget.tick()
        result = super().visit(node, *args, **kwargs)
        if isinstance(result, list | dict):
            self._budget.weight(result)
        return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class JsonQueryResult(BaseModel):
    result: Any = Field(description="The selected JSON value (null when nothing matched)")
    type: Literal["object", "array", "string", "number", "boolean", "null"]


def json_query(
    document: Annotated[
        dict[str, Any] | list[Any] | str,
        Field(description="The JSON document: an object or array, or a string containing JSON text."),
    ],
    expression: Annotated[
        str,
        Field(
            max_length=MAX_EXPRESSION_CHARS,
            description="JMESPath expression, e.g. 'items[?price > `10`].name', 'length(users)', "
            "'sort_by(people, &age)[-1].name', 'users[*].{id: id, email: contact.email}'.",
        ),
    ],
) -> JsonQueryResult:
    """Extract, filter, project or reshape data from a JSON document with a JMESPath expression.

    Use this to pull exact values out of large JSON instead of reading it by eye. Syntax:
    'a.b.c' fields, 'a[0]' / 'a[-1]' index, 'a[1:3]' slice, 'a[*].b' projection, 'a[]' flatten,
    'a[?x == `1`]' filter (JSON literals in backticks, strings in single quotes: `a[?name == 'Bo']`),
    '{k: a, n: b}' reshape, '|' pipe, functions such as length, keys, values, sort_by, max_by,
    min_by, sum, avg, contains, starts_with, join, to_number, to_string. Missing data gives null.
    """
    if isinstance(document, str):
        if len(document) > MAX_TEXT_CHARS:
            raise ToolError(f"The JSON text is longer than {MAX_TEXT_CHARS:,} characters.")
        try:
            data = json.loads(document, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ToolError(f"The document is not valid JSON: {exc}") from None
    else:
        data = document
    budget = _Budget()
    try:
        budget.weight(data)
    except _LimitError:
        raise ToolError(f"The document is larger than {MAX_JSON_WEIGHT:,} characters.") from None
    except _NonFiniteError:
        raise ToolError("The document is not valid JSON: NaN and Infinity are not allowed.") from None
    except RecursionError:
        raise ToolError("The document is nested too deeply.") from None
    try:
        parsed = jmespath.compile(expression)
        result = _SafeInterpreter(budget).visit(parsed.parsed, data)
        budget.weight(result)
    except jmespath.exceptions.JMESPathError as exc:
        raise ToolError(f"JMESPath error: {exc}") from None
    except _LimitError as exc:
        raise ToolError(f"Query stopped: {exc}.") from None
    except _NonFiniteError:
        raise ToolError("The result contains a number too large for JSON (Infinity or NaN).") from None
    except RecursionError:
        raise ToolError("The expression or document is nested too deeply.") from None
    except (TypeError, ValueError) as exc:
        raise ToolError(f"The expression cannot be applied to this data: {exc}") from None
    return JsonQueryResult(result=result, type=_json_type(result))


# --------------------------------------------------------------------------------------
# Encodings, hashes and identifiers
# --------------------------------------------------------------------------------------


def _decode_input(data: str, encoding: str) -> bytes:
    try:
        if encoding == "utf-8":
            return data.encode("utf-8")
        if encoding == "hex":
            return bytes.fromhex(data)
        return b64.b64decode(_pad_base64(data.strip()).replace("-", "+").replace("_", "/"), validate=True)
    except UnicodeEncodeError:
        raise ToolError("The text contains unpaired surrogates and cannot be encoded as UTF-8.") from None
    except (ValueError, binascii.Error) as exc:
        raise ToolError(f"The input is not valid {encoding}: {exc}") from None


def _pad_base64(data: str) -> str:
    data = "".join(data.split())
    return data + "=" * (-len(data) % 4)


HashAlgorithm = Literal[
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b", "blake2s"
]


class HashResult(BaseModel):
    algorithm: str
    hmac: bool = Field(description="True when this is an HMAC with the given key")
    hex: str = Field(description="Digest, lowercase hexadecimal")
    base64: str = Field(description="Digest, standard base64")
    input_bytes: int


def hash_text(
    data: Annotated[str, Field(max_length=MAX_TEXT_CHARS * 2, description="The data to hash")],
    algorithm: HashAlgorithm = "sha256",
    input_encoding: Annotated[
        Literal["utf-8", "hex", "base64"],
        Field(description="How 'data' encodes the bytes to hash: UTF-8 text (default), hex, or base64"),
    ] = "utf-8",
    hmac_key: Annotated[
        str | None, Field(max_length=4096, description="If given, compute an HMAC keyed with this UTF-8 string")
    ] = None,
) -> HashResult:
    """Compute a cryptographic hash (or HMAC) of text or bytes: sha256, sha1, md5, sha512, sha3, blake2.

    Text is hashed as its UTF-8 bytes exactly as given (no trailing newline is added).
    """
    payload = _decode_input(data, input_encoding)
    if len(payload) > MAX_TEXT_CHARS * 2:
        raise ToolError("The input is too large.")
    if hmac_key is not None:
        digest = hmac.new(hmac_key.encode("utf-8"), payload, algorithm).digest()
    else:
        digest = hashlib.new(algorithm, payload).digest()
    return HashResult(
        algorithm=algorithm,
        hmac=hmac_key is not None,
        hex=digest.hex(),
        base64=b64.b64encode(digest).decode("ascii"),
        input_bytes=len(payload),
    )


class Base64Result(BaseModel):
    result: str
    result_encoding: Literal["base64", "utf-8", "hex"] = Field(
        description="'base64' after encoding; after decoding 'utf-8' when the bytes are valid UTF-8 text, else 'hex'"
    )
    byte_length: int = Field(description="Number of raw (decoded) bytes")


def base64(
    operation: Literal["encode", "decode"],
    data: Annotated[
        str,
        Field(
            max_length=MAX_TEXT_CHARS * 2,
            description="encode: UTF-8 text (or hex when input_encoding='hex'); decode: base64 text",
        ),
    ],
    url_safe: Annotated[
        bool, Field(description="encode: use the URL-safe alphabet (- and _) instead of + and /")
    ] = False,
    padding: Annotated[bool, Field(description="encode: keep trailing '=' padding")] = True,
    input_encoding: Annotated[
        Literal["utf-8", "hex"], Field(description="encode: how 'data' represents the bytes to encode")
    ] = "utf-8",
) -> Base64Result:
    """Encode bytes/text to base64, or decode base64 (standard or URL-safe, padding optional) to text.

    Decoding returns UTF-8 text when the bytes are valid UTF-8, otherwise their hex form.
    """
    if operation == "encode":
        raw = _decode_input(data, input_encoding)
        encoded = (b64.urlsafe_b64encode(raw) if url_safe else b64.b64encode(raw)).decode("ascii")
        if not padding:
            encoded = encoded.rstrip("=")
        return Base64Result(result=encoded, result_encoding="base64", byte_length=len(raw))
    raw = _decode_input(data, "base64")
    try:
        return Base64Result(result=raw.decode("utf-8"), result_encoding="utf-8", byte_length=len(raw))
    except UnicodeDecodeError:
        return Base64Result(result=raw.hex(), result_encoding="hex", byte_length=len(raw))


class UuidResult(BaseModel):
    version: int
    uuids: list[str]


def _uuid7() -> _uuid.UUID:
    """RFC 9562 version 7: 48-bit Unix milliseconds, then random bits."""
    millis = _time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return _uuid.UUID(int=value)


def uuid(
    version: Annotated[
        Literal[4, 7], Field(description="4: fully random; 7: time-ordered (sortable by creation time)")
    ] = 4,
    count: Annotated[int, Field(ge=1, le=MAX_UUIDS)] = 1,
) -> UuidResult:
    """Generate random UUIDs (version 4, or time-ordered version 7) from a cryptographic random source.

    Version 7 UUIDs from one call are returned in ascending order.
    """
    if version == 4:
        values = [str(_uuid.uuid4()) for _ in range(count)]
    else:
        values = [str(u) for u in sorted((_uuid7() for _ in range(count)), key=lambda u: u.int)]
    return UuidResult(version=version, uuids=values)
