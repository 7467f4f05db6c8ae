"""Incremental parser for server-sent events (WHATWG HTML, "event stream interpretation").

Written here rather than taken from a package because a watch must see each
event the moment its bytes arrive and must own the socket's timeouts; the
SSE client packages read fixed-size blocks from a response they drive
themselves. The parser is a pure function of the bytes fed to it.

Not thread-safe: one parser per stream.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event: its type (`event:`, default "message"), data and last event id."""

    event: str
    data: str
    id: Optional[str]


class SseParser:
    """Turns chunks of an event stream into events; chunks may split lines or UTF-8 sequences anywhere."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._at_start = True
        self._skip_lf = False  # The previous chunk ended in CR, so a leading LF belongs to it.
        self._event = ""
        self._data: List[str] = []
        self._last_id: Optional[str] = None

    def feed(self, chunk: bytes) -> List[ServerSentEvent]:
        """Consumes bytes and returns the events they complete, in order."""
        text = self._decoder.decode(chunk)
        if self._at_start and text:
            self._at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf and text:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        self._buffer += text
        events: List[ServerSentEvent] = []
        while True:
            cut = _find_line_end(self._buffer)
            if cut < 0:
                break
            line = self._buffer[:cut]
            ending = self._buffer[cut]
            if ending == "\r":
                if cut + 1 == len(self._buffer):
                    self._skip_lf = True
                    self._buffer = ""
                elif self._buffer[cut + 1] == "\n":
                    self._buffer = self._buffer[cut + 2:]
                else:
                    self._buffer = self._buffer[cut + 1:]
            else:
                self._buffer = self._buffer[cut + 1:]
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _process_line(self, line: str) -> Optional[ServerSentEvent]:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> Optional[ServerSentEvent]:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event=event or "message", data="\n".join(data), id=self._last_id)


def _find_line_end(text: str) -> int:
    cr, lf = text.find("\r"), text.find("\n")
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)
