"""Messages from a stdio upstream are cut from bytes as they arrive, each bounded in size."""

from __future__ import annotations

from hub.adapters.mcp_stdio import Lines, parse


def test_lines_are_cut_across_chunks_and_blank_tails_wait_for_more() -> None:
    lines = Lines(limit=100)
    assert lines.feed(b'{"a":') == []
    assert lines.feed(b'1}\n{"b":2}\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert lines.feed(b":3}") == []
    assert lines.feed(b"\n") == [b'{"c":3}']
    assert lines.feed(b"\n\n") == [b"", b""]  # blank lines are the reader's to skip


def test_a_line_past_the_limit_is_refused_as_soon_as_it_is_past() -> None:
    lines = Lines(limit=10)
    assert lines.feed(b"0123456789\n") == [b"0123456789"]  # exactly the limit
    assert lines.feed(b"01234") == []
    assert lines.feed(b"567890") is None  # 11 bytes and no newline yet: no need to wait for the rest
    assert Lines(limit=10).feed(b"0123456789A\n") is None  # past it within one chunk


def test_a_large_message_in_many_chunks_comes_out_whole() -> None:
    lines = Lines(limit=10 * 1024 * 1024)
    chunk = b"x" * 65536
    for _ in range(100):
        assert lines.feed(chunk) == []
    (line,) = lines.feed(b"\n")
    assert line == chunk * 100


def test_parse_gives_a_message_or_the_error_as_a_value() -> None:
    message = parse(b'{"jsonrpc":"2.0","id":1,"result":{}}')
    assert not isinstance(message, Exception) and message.message.id == 1
    assert isinstance(parse(b"not json"), ValueError)
    assert isinstance(parse(b'{"jsonrpc":"2.0","id":1,"result":"\xff"}'), ValueError)  # not UTF-8
