"""The serving gateway of `ferry server` facing bad input: an unknown endpoint is 404 naming it on every
V2 and V1 path, malformed paths are 4xx, an oversize body is 413, and the payload read-back API answers
400 naming the parameter at fault. The server keeps serving throughout. The routed paths (a published
endpoint, the canary split, the payload log's content) are covered by the C++ gateway_test against
in-process replicas and by test_deployments.py through the controller."""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from ferry_testing import FerryServer

MAX_BODY = 65536


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> FerryServer:
    srv = FerryServer(tmp_path_factory.mktemp("gateway"), ("--max-body-bytes", str(MAX_BODY))).start()
    yield srv
    srv.stop()


INFER = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}


def test_server_metadata_and_health(server: FerryServer):
    r = server.get("/v2")
    assert r.status_code == 200
    assert r.json()["name"] == "ferry"
    assert server.get("/v2/health/live").status_code == 200
    assert server.get("/v2/health/ready").status_code == 200


@pytest.mark.parametrize("method,path", [
    ("POST", "/v2/models/nosuch/infer"),
    ("POST", "/v2/models/nosuch/versions/3/infer"),
    ("GET", "/v2/models/nosuch"),
    ("GET", "/v2/models/nosuch/ready"),
    ("GET", "/v2/models/nosuch/versions/1/ready"),
    ("GET", "/v2/models/nosuch/config"),
    ("GET", "/v2/models/nosuch/stats"),
    ("POST", "/v1/models/nosuch:predict"),
])
def test_unknown_endpoint_is_404_naming_it(server: FerryServer, method: str, path: str):
    r = requests.request(method, server.url + path, json=INFER if method == "POST" else None, timeout=30)
    assert r.status_code == 404, r.text
    assert r.json() == {"error": "endpoint 'nosuch' not found"}


def test_malformed_paths(server: FerryServer):
    # A malformed escape in the model segment (sent raw: requests would re-quote it as %25ZZ).
    conn = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=30)
    conn.request("POST", "/v2/models/a%ZZ/infer", body=json.dumps(INFER),
                 headers={"Content-Type": "application/json"})
    raw = conn.getresponse()
    body = raw.read().decode()
    conn.close()
    assert raw.status == 400, body
    assert "error" in json.loads(body)
    # An empty model name matches no route.
    r = requests.post(server.url + "/v2/models//infer", json=INFER, timeout=30)
    assert r.status_code == 404, r.text
    # The wrong method.
    r = requests.get(server.url + "/v2/models/iris/infer", timeout=30)
    assert r.status_code == 405, r.text
    # V1 without its verb, and the verb alone.
    for path in ("/v1/models/iris", "/v1/models/:predict"):
        r = requests.post(server.url + path, json={"instances": [[1, 2]]}, timeout=30)
        assert r.status_code == 404, r.text
        assert ":predict" in r.json()["error"]
    # A name with an encoded slash is one (unknown) name, not a path into another namespace.
    r = requests.post(server.url + "/v2/models/kube-system%2Firis/infer", json=INFER, timeout=30)
    assert r.status_code == 404, r.text
    assert r.json() == {"error": "endpoint 'kube-system/iris' not found"}


def test_oversize_body_is_413(server: FerryServer):
    body = b'{"inputs": [' + b" " * (MAX_BODY + 1) + b"]}"
    r = requests.post(server.url + "/v2/models/iris/infer", data=body,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413, r.text
    assert "error" in r.json()
    assert server.get("/v2/health/live").status_code == 200  # still serving


@pytest.mark.parametrize("query,param", [
    ("", "endpoint"),
    ("endpoint=iris", "endpoint"),
    ("endpoint=default/iris&limit=0", "limit"),
    ("endpoint=default/iris&limit=ten", "limit"),
    ("endpoint=default/iris&since=yesterday", "since"),
    ("endpoint=default/iris&until=-1", "until"),
    ("endpoint=default/iris&page_token=not-a-token", "page_token"),
    ("endpoint=default/iris&colour=red", "colour"),
])
def test_payload_query_bad_params_are_400_naming_the_param(server: FerryServer, query: str, param: str):
    r = server.get("/api/v1/serving/payloads?" + query)
    assert r.status_code == 400, r.text
    error = r.json()["error"]  # the native shape
    assert error["code"] == "InvalidArgument"
    assert param in error["message"] or error.get("field") == param, error


def test_payload_query_of_an_endpoint_with_no_records(server: FerryServer):
    r = server.get("/api/v1/serving/payloads?endpoint=default/iris&since=2024-01-01T00:00:00Z&limit=5")
    assert r.status_code == 200, r.text
    assert r.json() == {"records": []}
