"""The HTTP layer under conditions the real server cannot be made to produce on demand:
events that must be delivered before the stream goes on, torn streams, foreign error pages.

A scripted local HTTP server plays the other end; everything a real Ferry server
does is tested against the real binary in test_client.py.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, List

import pytest

import ferry

Script = Callable[[BaseHTTPRequestHandler], None]

DISCOVERY = (b'{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"configmaps",'
             b'"singularName":"configmap","kind":"ConfigMap","group":"","version":"v1","apiVersion":"v1",'
             b'"namespaced":true,"shortNames":["cm"],"verbs":["list","watch"]}]}')


class ScriptedServer:
    """Answers GET /api/v1 with discovery and every other request with `script`."""

    def __init__(self) -> None:
        self.script: Script = lambda h: None
        # Scripts that hold a stream open wait on this; close() sets it so their threads end.
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == "/api/v1":
                    send(self, 200, "application/json", DISCOVERY)
                else:
                    outer.script(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def send(h: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def start_stream(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()


def chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
    h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    h.wfile.flush()


def event(name: str) -> bytes:
    return (b'event: ADDED\ndata: {"type":"ADDED","object":{"metadata":{"name":"%s"}}}\n\n'
            % name.encode())


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


def test_each_event_is_yielded_as_soon_as_it_arrives(scripted: ScriptedServer) -> None:
    received_first = threading.Event()

    def script(h: BaseHTTPRequestHandler) -> None:
        start_stream(h)
        chunk(h, b": keep-alive\n\n" + event("one")[:20])
        chunk(h, event("one")[20:])
        # The second event is sent only once the client has handed out the first.
        if received_first.wait(timeout=30):
            chunk(h, event("two"))
        chunk(h, b"")

    scripted.script = script
    names = []
    for event_type, obj in ferry.Client(scripted.url).watch("cm", timeout=60):
        names.append((event_type, obj["metadata"]["name"]))
        received_first.set()
    assert names == [("ADDED", "one"), ("ADDED", "two")]


def test_torn_stream_raises_unavailable(scripted: ScriptedServer) -> None:
    def script(h: BaseHTTPRequestHandler) -> None:
        start_stream(h)
        chunk(h, event("one"))
        h.wfile.write(b"ff\r\npartial")
        h.wfile.flush()
        h.close_connection = True

    scripted.script = script
    events = ferry.Client(scripted.url).watch("cm", timeout=60)
    assert next(events).object["metadata"]["name"] == "one"
    with pytest.raises(ferry.Unavailable) as e:
        next(events)
    assert "event stream broke" in e.value.message


def test_watch_refuses_a_non_event_stream(scripted: ScriptedServer) -> None:
    scripted.script = lambda h: send(h, 200, "application/json", b"{}")
    with pytest.raises(ferry.Internal) as e:
        next(ferry.Client(scripted.url).watch("cm"))
    assert "text/event-stream" in e.value.message


def test_watch_error_before_the_stream(scripted: ScriptedServer) -> None:
    scripted.script = lambda h: send(h, 410, "application/json",
                                     b'{"error":{"code":"Expired","message":"too old resourceVersion 3"}}')
    with pytest.raises(ferry.Expired) as e:
        next(ferry.Client(scripted.url).watch("cm", resource_version="3"))
    assert (e.value.status, e.value.message) == (410, "too old resourceVersion 3")


def test_bad_event_data_raises_internal(scripted: ScriptedServer) -> None:
    def script(h: BaseHTTPRequestHandler) -> None:
        start_stream(h)
        chunk(h, b"event: ADDED\ndata: {not json\n\n")
        chunk(h, b"")

    scripted.script = script
    with pytest.raises(ferry.Internal):
        next(ferry.Client(scripted.url).watch("cm"))


def test_foreign_error_page(scripted: ScriptedServer) -> None:
    scripted.script = lambda h: send(h, 502, "text/html", b"<html>bad gateway</html>")
    with pytest.raises(ferry.Unavailable) as e:
        ferry.Client(scripted.url).get("cm", "x")
    assert (e.value.status, e.value.message) == (502, "<html>bad gateway</html>")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_success_without_a_json_object(scripted: ScriptedServer, body: bytes) -> None:
    scripted.script = lambda h: send(h, 200, "application/json", body)
    with pytest.raises(ferry.Internal):
        ferry.Client(scripted.url).get("cm", "x")


def drain_in_thread(events: Iterator[ferry.WatchEvent]) -> List[ferry.WatchEvent]:
    """Consumes a watch in a thread; fails if it is still running long after its timeout should have ended it."""
    got: List[ferry.WatchEvent] = []
    failure: List[BaseException] = []

    def consume() -> None:
        try:
            got.extend(events)
        except BaseException as e:  # handed to the test thread
            failure.append(e)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(timeout=30)
    assert not t.is_alive(), "the watch did not end at its timeout"
    if failure:
        raise failure[0]
    return got


def test_timeout_ends_a_silent_stream(scripted: ScriptedServer) -> None:
    def script(h: BaseHTTPRequestHandler) -> None:
        start_stream(h)
        scripted.release.wait()

    scripted.script = script
    assert drain_in_thread(ferry.Client(scripted.url).watch("cm", timeout=0.3)) == []


def test_timeout_ends_a_stream_that_never_stops_talking(scripted: ScriptedServer) -> None:
    def script(h: BaseHTTPRequestHandler) -> None:
        start_stream(h)
        chunk(h, event("first"))
        while not scripted.release.wait(0.01):
            chunk(h, b": keep-alive\n\n")

    scripted.script = script
    got = drain_in_thread(ferry.Client(scripted.url).watch("cm", timeout=0.3))
    assert [e.object["metadata"]["name"] for e in got] == ["first"]


def test_a_stalled_stream_raises_unavailable(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ferry._http.STREAM_STALL_SECONDS", 0.3)

    def script(h: BaseHTTPRequestHandler) -> None:
        start_stream(h)
        scripted.release.wait()

    scripted.script = script
    with pytest.raises(ferry.Unavailable) as e:
        drain_in_thread(ferry.Client(scripted.url).watch("cm"))
    assert "stalled" in e.value.message
