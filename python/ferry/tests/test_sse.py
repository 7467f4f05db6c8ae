"""The SSE parser against the WHATWG event-stream rules, fed whole and one byte at a time."""
from __future__ import annotations

from typing import List

import pytest

from ferry._sse import ServerSentEvent, SseParser


def parse(stream: bytes, chunk: int) -> List[ServerSentEvent]:
    parser = SseParser()
    events: List[ServerSentEvent] = []
    for i in range(0, len(stream), chunk):
        events += parser.feed(stream[i:i + chunk])
    return events


CASES = [
    (b'event: ADDED\nid: 7\ndata: {"a":1}\n\n',
     [ServerSentEvent("ADDED", '{"a":1}', "7")]),
    (b": keep-alive\n\n: keep-alive\n\nevent: X\ndata: y\n\n",
     [ServerSentEvent("X", "y", None)]),
    (b"data: one\ndata: two\n\n", [ServerSentEvent("message", "one\ntwo", None)]),
    (b"event: A\r\ndata: 1\r\n\r\nevent: B\rdata: 2\r\r", [ServerSentEvent("A", "1", None),
                                                          ServerSentEvent("B", "2", None)]),
    (b"\xef\xbb\xbfdata:no-space\n\n", [ServerSentEvent("message", "no-space", None)]),
    (b"id: 1\ndata: a\n\ndata: b\n\n", [ServerSentEvent("message", "a", "1"), ServerSentEvent("message", "b", "1")]),
    (b"event: lonely\n\n", []),
    (b"data: unterminated\n", []),
    (b"data: caf\xc3\xa9 \xe2\x9c\x93\n\n", [ServerSentEvent("message", "caf\u00e9 \u2713", None)]),
    (b"unknown: field\ndata\n\n", [ServerSentEvent("message", "", None)]),
]


@pytest.mark.parametrize("stream, expected", CASES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 16])
def test_parser(stream: bytes, expected: List[ServerSentEvent], chunk: int) -> None:
    assert parse(stream, chunk) == expected


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert parse(b"data: \xff\xfe\n\n", 1) == [ServerSentEvent("message", "\ufffd\ufffd", None)]
