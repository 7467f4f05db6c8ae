"""Bad input to `ferry serve`: each request is answered 4xx with a message naming the problem, and the
server stays up (GET /v2/health/live after each). Covers malformed JSON, wrong shapes and datatypes,
truncated binary payloads, bad Inference-Header-Content-Length values, compressed bodies, unknown models
and versions, a 100 MB body, and hostile model names in the repository extension."""
from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path
from typing import Dict, Optional

import pytest
import requests

from serving_testing import FerryServe, add_model, add_one_repository, add_one_server, serve_factory

__all__ = ["add_one_repository", "add_one_server", "serve_factory"]  # fixtures used below

INFER = "/v2/models/add_one/versions/1/infer"
GOOD = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}


def post(srv: FerryServe, path: str, body: bytes, headers: Optional[Dict[str, str]] = None) -> requests.Response:
    return requests.post(srv.url + path, data=body, headers=headers or {}, timeout=30)


def assert_rejected(srv: FerryServe, response: requests.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert isinstance(message, str), response.text
    for fragment in fragments:
        assert fragment in message, message
    assert srv.get("/v2/health/live").status_code == 200


def binary_body(header: dict, payload: bytes):
    text = json.dumps(header).encode()
    return text + payload, {"Inference-Header-Content-Length": str(len(text))}


@pytest.mark.parametrize("body,fragments", [
    (b"{not json", ()),
    (b"[]", ("object",)),
    (b"", ()),
    (b"\xff\xfe{}", ()),
    (b"[" * 10000 + b"]" * 10000, ()),
    (json.dumps({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}).encode(),
     ("'x'",)),
    (json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}]}).encode(),
     ("'x'", "FP32")),
    (json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}]}).encode(),
     ("FLOAT",)),
    (json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}).encode(),
     ()),
    (json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ["a", 2, 3, 4]}]}).encode(),
     ()),
    (json.dumps({"inputs": []}).encode(), ("'x'",)),
    (json.dumps({"inputs": [GOOD["inputs"][0], {"name": "w", "shape": [1], "datatype": "FP32", "data": [1]}]}).encode(),
     ("'w'",)),
    (json.dumps({**GOOD, "outputs": [{"name": "nope"}]}).encode(), ("'nope'",)),
    (json.dumps({**GOOD, "outputs": [{"name": "y", "parameters": {"classification": -1}}]}).encode(), ()),
])
def test_malformed_requests(add_one_server: FerryServe, body: bytes, fragments):
    assert_rejected(add_one_server, post(add_one_server, INFER, body), 400, *fragments)


def test_binary_payload_problems(add_one_server: FerryServe):
    srv = add_one_server
    header = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                          "parameters": {"binary_data_size": 16}}]}
    truncated, headers = binary_body(header, b"\0" * 10)
    assert_rejected(srv, post(srv, INFER, truncated, headers), 400)
    extra, headers = binary_body(header, b"\0" * 20)
    assert_rejected(srv, post(srv, INFER, extra, headers), 400)
    body, _ = binary_body(header, b"\0" * 16)
    for value in ("abc", "-1", "1e3", "", "12a", "0x10", "99999999999999999999999"):
        assert_rejected(srv, post(srv, INFER, body, {"Inference-Header-Content-Length": value}), 400,
                        "Inference-Header-Content-Length")
    assert_rejected(srv, post(srv, INFER, body, {"Inference-Header-Content-Length": str(len(body) + 1)}), 400,
                    "exceeds the body")
    short_header = {"Inference-Header-Content-Length": "5"}  # cuts the JSON part
    assert_rejected(srv, post(srv, INFER, body, short_header), 400)


def test_compressed_body_is_refused_naming_the_encoding(add_one_server: FerryServe):
    body = gzip.compress(json.dumps(GOOD).encode())
    assert_rejected(add_one_server, post(add_one_server, INFER, body, {"Content-Encoding": "gzip"}), 400,
                    "Content-Encoding 'gzip'")


def test_unknown_model_and_version(add_one_server: FerryServe):
    srv = add_one_server
    body = json.dumps(GOOD).encode()
    assert_rejected(srv, post(srv, "/v2/models/nope/infer", body), 404, "'nope'")
    assert_rejected(srv, post(srv, "/v2/models/add_one/versions/9/infer", body), 404, "'9'")
    assert_rejected(srv, post(srv, "/v2/models/add_one/versions/abc/infer", body), 404, "'abc'")
    assert_rejected(srv, srv.get("/v2/models/nope/config"), 404, "'nope'")
    assert_rejected(srv, srv.get("/v2/models/add_one/versions/9"), 404, "'9'")


def test_hundred_megabyte_body_is_413(add_one_server: FerryServe):
    host, port = add_one_server.host_port.split(":")
    size = 100 << 20
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall((f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {size}\r\n\r\n").encode())
        try:
            sock.sendall(b"[" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest: what we want
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    status_line = response.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), response[:500]
    assert b"exceeds the limit" in response
    assert add_one_server.get("/v2/health/live").status_code == 200


def test_the_transports_own_errors_have_the_v2_shape(serve_factory, add_one_repository: Path):
    """413, 404 and 405 come from the HTTP layer, before any inference route runs; tritonclient still
    reads their message from V2's {"error": "..."}."""
    srv = serve_factory(add_one_repository, "--max-body-bytes", "1024")
    assert_rejected(srv, post(srv, INFER, b" " * 4096), 413, "exceeds the limit of 1024 bytes")
    assert_rejected(srv, srv.get("/v2/no/such/route"), 404)
    assert_rejected(srv, requests.delete(srv.url + INFER, timeout=30), 405, "allowed: POST")


def test_hostile_model_names_in_load(serve_factory, add_one_repository: Path, tmp_path: Path):
    # A model folder outside the repository that a traversal would reach.
    outside = tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    (outside / "1" / "model.onnx").write_bytes(add_model(3.0))
    srv = serve_factory(add_one_repository)
    for name, fragment in [("..%2Foutside", "model name"), ("%2E%2E", "model name"), ("a%2Fb", "path separators"),
                           (".hidden", "must not start with '.'"), ("a%5Cb", "path separators"),
                           ("a%00b", "control characters"), ("%FF", "UTF-8"), ("x" * 300, "longer than")]:
        response = post(srv, f"/v2/repository/models/{name}/load", b"")
        assert_rejected(srv, response, 400, fragment)
    assert_rejected(srv, post(srv, "/v2/repository/models/nope/load", b""), 404, "'nope'")
    # Raw '..' segments never reach a handler either.
    host, port = srv.host_port.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /v2/repository/models/../outside/load HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        status_line = sock.recv(65536).split(b"\r\n", 1)[0]
    assert status_line[9:10] == b"4", status_line
    index = requests.post(srv.url + "/v2/repository/index", timeout=30).json()
    assert {m["name"] for m in index} == {"add_one"}
    assert srv.get("/v2/health/live").status_code == 200


def test_bad_repository_requests(add_one_server: FerryServe):
    srv = add_one_server
    assert_rejected(srv, post(srv, "/v2/repository/index", b"{"), 400)
    assert_rejected(srv, post(srv, "/v2/repository/index", b'{"ready": "yes"}'), 400, "'ready'")
    assert_rejected(srv, post(srv, "/v2/repository/index", b'{"other": 1}'), 400, "'other'")
    assert_rejected(srv, post(srv, "/v2/repository/models/add_one/load", b'{"parameters": {"file:1/model.onnx": "AA=="}}'),
                    400, "not supported")
    assert_rejected(srv, post(srv, "/v2/repository/models/add_one/unload", b'{"parameters": []}'), 400, "object")
    assert_rejected(srv, post(srv, "/v2/repository/models/nope/unload", b""), 404, "'nope'")


def test_v1_bad_input(add_one_server: FerryServe):
    srv = add_one_server
    assert_rejected(srv, post(srv, "/v1/models/add_one:predict", b"{"), 400)
    assert_rejected(srv, post(srv, "/v1/models/add_one:predict", b'{"instances": [[1, 2]]}'), 400)
    assert_rejected(srv, post(srv, "/v1/models/add_one:explain", b'{"instances": [[1, 2, 3, 4]]}'), 404, ":predict")


def test_model_that_does_not_load_stops_the_start(serve_factory, tmp_path: Path):
    repository = tmp_path / "models"
    (repository / "broken" / "1").mkdir(parents=True)
    (repository / "broken" / "1" / "model.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(RuntimeError, match="broken"):
        serve_factory(repository)
