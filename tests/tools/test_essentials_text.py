"""The essentials pack's text, hashing, encoding and id tools: text_stats, hash_text, base64, uuid."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.tools.essentials_helpers import fails, ok

# ----------------------------------------------------------------------------- text, hashing, encoding, ids


async def test_text_stats() -> None:
    text = "Hello world. It's a test!\nSecond line without end\n\nNew paragraph here"
    result = await ok("text_stats", text=text)
    assert result["characters"] == len(text)
    assert result["bytes_utf8"] == len(text.encode())
    assert result["words"] == 12
    assert result["lines"] == 4
    assert result["sentences"] == 3
    assert result["paragraphs"] == 2
    assert result["longest_line"] == len("Hello world. It's a test!")
    assert result["tokens_estimate"] >= 16
    unicode = await ok("text_stats", text="h\u00e9llo w\u00f6rld")
    assert (unicode["characters"], unicode["bytes_utf8"], unicode["words"]) == (11, 13, 2)
    empty = await ok("text_stats", text="")
    assert empty["words"] == empty["sentences"] == empty["tokens_estimate"] == 0


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"data": "abc"}, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ({"data": "", "algorithm": "md5"}, "d41d8cd98f00b204e9800998ecf8427e"),
        ({"data": "abc", "algorithm": "sha1"}, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            {"data": "616263", "input_encoding": "hex"},
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (  # RFC 4231 test case 2
            {"data": "what do ya want for nothing?", "hmac_key": "Jefe"},
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
    ],
)
async def test_hash_text(arguments: dict[str, str], expected: str) -> None:
    result = await ok("hash_text", **arguments)
    assert result["hex"] == expected
    assert result["hmac"] is ("hmac_key" in arguments)


async def test_hash_text_rejects_bad_hex() -> None:
    assert "not valid hex" in await fails("hash_text", data="zz", input_encoding="hex")


async def test_base64_round_trip() -> None:
    encoded = await ok("base64", operation="encode", data="h\u00e9llo?>")
    assert encoded == {"result": "aMOpbGxvPz4=", "result_encoding": "base64", "byte_length": 8}
    url = await ok("base64", operation="encode", data="h\u00e9llo?>", url_safe=True, padding=False)
    assert url["result"] == "aMOpbGxvPz4"
    for text in ("aMOpbGxvPz4=", "aMOpbGxvPz4", " aMOp\nbGxvPz4 "):
        decoded = await ok("base64", operation="decode", data=text)
        assert decoded == {"result": "h\u00e9llo?>", "result_encoding": "utf-8", "byte_length": 8}


async def test_base64_binary_and_errors() -> None:
    decoded = await ok("base64", operation="decode", data="/wA=")
    assert decoded == {"result": "ff00", "result_encoding": "hex", "byte_length": 2}
    assert (await ok("base64", operation="encode", data="ff00", input_encoding="hex"))["result"] == "/wA="
    assert "not valid base64" in await fails("base64", operation="decode", data="!!!!")


async def test_uuid() -> None:
    v4 = await ok("uuid", count=5)
    assert v4["version"] == 4 and len(set(v4["uuids"])) == 5
    assert all(uuid.UUID(value).version == 4 for value in v4["uuids"])
    v7 = await ok("uuid", version=7, count=10)
    parsed = [uuid.UUID(value) for value in v7["uuids"]]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert v7["uuids"] == sorted(v7["uuids"])
    millis = parsed[0].int >> 80
    assert abs(millis / 1000 - time.time()) < 5
