"""HTTP plumbing for upstream connections: a response-size cap on the upstream transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2


class ResponseTooLarge(httpx2.TransportError):
    pass


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self._inner, self._limit, self._seen = inner, limit, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._seen += len(chunk)
            if self._seen > self._limit:
                raise ResponseTooLarge(f"upstream response exceeded {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """Bounds every response body an upstream sends for a request (not the long-lived GET stream)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int, on_overflow: Callable[[], None]) -> None:
        self._inner, self._limit, self._on_overflow = inner, limit, on_overflow

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "GET":
            return response
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self._limit:
            await response.aclose()
            self._on_overflow()
            raise ResponseTooLarge(f"upstream response exceeded {self._limit} bytes")
        capped = _CappedStream(response.stream, self._limit)  # type: ignore[arg-type]
        outer = self

        class _Stream(httpx2.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                try:
                    async for chunk in capped:
                        yield chunk
                except ResponseTooLarge:
                    outer._on_overflow()
                    raise

            async def aclose(self) -> None:
                await capped.aclose()

        return httpx2.Response(
            response.status_code, headers=response.headers, stream=_Stream(), extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
