"""HTTP layer of the SDK: one `requests` session, JSON in and out, errors mapped to FerryError.

Nothing above this module sees `requests`: the service layer passes paths and
bodies and gets decoded JSON back or a FerryError.

A Transport may be shared by threads only as far as `requests.Session` may
(sessions are commonly shared for simple requests; give each thread its own
Client for certainty).
"""
from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import requests
import urllib3.exceptions

from . import errors
from ._version import __version__

JSON_TYPE = "application/json"
MERGE_PATCH_TYPE = "application/merge-patch+json"
EVENT_STREAM_TYPE = "text/event-stream"

# The server sends a keep-alive comment every 15 s; three missed ones mean the
# connection is dead even if TCP has not noticed.
STREAM_STALL_SECONDS = 45.0


class Transport:
    """Sends requests to one Ferry server and decodes its answers."""

    def __init__(self, base_url: str, timeout: float, session: Optional[requests.Session] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._headers = {"User-Agent": f"ferry-sdk/{__version__}", "Accept": JSON_TYPE}

    def close(self) -> None:
        """Closes the session if this Transport created it."""
        if self._owns_session:
            self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, str]] = None,
        body: Any = None,
        content_type: str = JSON_TYPE,
    ) -> Dict[str, Any]:
        """Sends one request and returns the JSON object of a 2xx answer, or raises FerryError."""
        headers = dict(self._headers)
        data: Optional[bytes] = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = _encode_json(body)
        resp = self._send(method, path, params=params, data=data, headers=headers)
        if not 200 <= resp.status_code < 300:
            raise _error(resp)
        try:
            doc = resp.json()
        except ValueError as e:
            raise errors.Internal(
                f"{method} {path}: the server answered {resp.status_code} with a body that is not JSON: {e}",
                status=resp.status_code,
            ) from None
        if not isinstance(doc, dict):
            raise errors.Internal(f"{method} {path}: the server answered {resp.status_code} with JSON that is "
                                  f"not an object", status=resp.status_code)
        return doc

    def get_text(self, path: str) -> Tuple[int, str]:
        """GETs a plain-text endpoint (/healthz, /readyz) and returns its status and body, whatever the status."""
        resp = self._send("GET", path, headers={"User-Agent": self._headers["User-Agent"]})
        return resp.status_code, resp.text

    def stream(
        self, path: str, params: Mapping[str, str], timeout: Optional[float]
    ) -> Iterator[bytes]:
        """GETs an event stream and yields its bytes as they arrive until the server ends it or `timeout` passes."""
        headers = dict(self._headers, Accept=EVENT_STREAM_TYPE)
        # The read timeout stays on the socket for the whole stream: it is the stall detector.
        resp = self._send("GET", path, params=params, headers=headers, stream=True,
                          timeout=(self.timeout, STREAM_STALL_SECONDS))
        deadline: Optional[_Deadline] = None
        try:
            if resp.status_code != 200:
                raise _error(resp)
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.startswith(EVENT_STREAM_TYPE):
                raise errors.Internal(f"GET {path}: expected {EVENT_STREAM_TYPE}, the server sent '{ctype}'",
                                      status=resp.status_code)
            raw = resp.raw
            if timeout is not None:
                deadline = _Deadline(raw.fileno(), timeout)
            while True:
                try:
                    chunk = raw.read1(65536)
                except (urllib3.exceptions.HTTPError, OSError) as e:
                    if deadline is not None and deadline.expired.is_set():
                        return
                    if isinstance(e, (urllib3.exceptions.ReadTimeoutError, socket.timeout)):
                        raise errors.Unavailable(
                            f"GET {path}: the event stream stalled (nothing, not even a keep-alive, "
                            f"for {STREAM_STALL_SECONDS:.0f} s)") from None
                    raise errors.Unavailable(f"GET {path}: the event stream broke: {e}") from None
                if not chunk or (deadline is not None and deadline.expired.is_set()):
                    return
                yield chunk
        finally:
            if deadline is not None:
                deadline.cancel()
            resp.close()

    def _send(self, method: str, path: str, *, stream: bool = False,
              timeout: Union[float, Tuple[float, float], None] = None, **kw: Any) -> requests.Response:
        url = self.base_url + path
        try:
            return self._session.request(method, url, timeout=timeout or self.timeout, stream=stream, **kw)
        except requests.exceptions.Timeout as e:
            raise errors.DeadlineExceeded(f"{method} {url}: no answer within {self.timeout} s ({e})") from None
        except requests.exceptions.RequestException as e:
            raise errors.Unavailable(f"cannot reach the Ferry server at {self.base_url}: {e}") from None


class _Deadline:
    """Ends a stream's blocking reads at a deadline by shutting its socket down from a timer thread.

    A read blocked in the kernel cannot be given a new timeout from outside,
    and the socket object is not reachable once the server said
    `Connection: close`; a shutdown(2) on a duplicate of its descriptor makes
    the blocked read return at once. The duplicate is taken now, while the
    descriptor surely belongs to this stream, so a late timer can never touch
    a descriptor number the process has reused.
    """

    def __init__(self, fd: int, seconds: float) -> None:
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = socket.socket(fileno=os.dup(fd))
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            if self._sock is not None:
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # Already closed by the peer: the read has returned anyway.

    def cancel(self) -> None:
        """Stops the timer and releases the duplicate descriptor."""
        self._timer.cancel()
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _encode_json(body: Any) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise errors.InvalidArgument(f"the request body cannot be encoded as JSON: {e}") from None


def _error(resp: requests.Response) -> errors.FerryError:
    text = resp.text
    decoded: Any = None
    if resp.headers.get("Content-Type", "").startswith(JSON_TYPE):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
    return errors.error_from_response(resp.status_code, decoded, resp.headers, text)

