"""`ferry server` as an operator sees it: options, the data-dir lock, graceful drain,
health and version endpoints, Prometheus metrics, request ids and structured logs."""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ferry_testing import ROOT, FerryServer, ferry_bin, hermetic_env

OPTIONS = {
    "--listen": "FERRY_LISTEN",
    "--data-dir": "FERRY_DATA_DIR",
    "--db": "FERRY_DB",
    "--artifact-root": "FERRY_ARTIFACT_ROOT",
    "--max-body-bytes": "FERRY_MAX_BODY_BYTES",
    "--threads": "FERRY_THREADS",
    "--drain-timeout": "FERRY_DRAIN_TIMEOUT",
    "--log-level": "FERRY_LOG_LEVEL",
    "--log-format": "FERRY_LOG_FORMAT",
    "--config": "FERRY_CONFIG",
}


def run_server(*args: str, env: Optional[Dict[str, str]] = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs `ferry server ARGS` to completion (for invocations that must exit by themselves)."""
    return subprocess.run([ferry_bin(), "server", *args], capture_output=True, text=True, timeout=timeout,
                          env=hermetic_env(env))


def project_version() -> str:
    m = re.search(r"project\(ferry VERSION (\S+)", (ROOT / "CMakeLists.txt").read_text())
    assert m
    return m.group(1)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02) -> None:
    """Polls `predicate` until it holds; fails naming `what` if `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def sized_configmap(name: str, size: int) -> bytes:
    """A ConfigMap whose JSON encoding is exactly `size` bytes."""
    def encode(pad: str) -> bytes:
        return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"pad": pad}}, separators=(",", ":")).encode()
    base = len(encode(""))
    body = encode("x" * (size - base))
    assert len(body) == size
    return body


def post_sized(url: str, name: str, size: int) -> requests.Response:
    return requests.post(f"{url}/api/v1/namespaces/default/configmaps", data=sized_configmap(name, size),
                         headers={"Content-Type": "application/json"}, timeout=30)


# Options.

def test_help_documents_every_option():
    result = run_server("--help")
    assert result.returncode == 0, result.stderr
    for flag, env in OPTIONS.items():
        assert re.search(rf"{re.escape(flag)}\b", result.stdout), f"--help does not document {flag}"
        assert env in result.stdout, f"--help does not name the variable {env} for {flag}"


@pytest.mark.parametrize("args, needle", [
    (["--log-format", "xml"], "--log-format"),
    (["--log-level", "loud"], "--log-level"),
    (["--max-body-bytes", "12"], "--max-body-bytes"),
    (["--threads", "many"], "--threads"),
    (["--frobnicate"], "--frobnicate"),
])
def test_bad_flags_are_usage_errors(tmp_path, args, needle):
    result = run_server("--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr
    assert "listening" not in result.stdout


def test_bad_listen_address_fails_naming_it(tmp_path):
    result = run_server("--data-dir", str(tmp_path / "d"), "--listen", "not-an-address")
    assert result.returncode != 0
    assert "not-an-address" in result.stderr


def test_options_precedence_flag_over_env_over_file(server_factory, tmp_path):
    """max-body-bytes is observable from outside: 413 above it, 201 below it."""
    config = tmp_path / "ferry.yaml"
    config.write_text("max-body-bytes: 2048\n")

    from_file = server_factory(tmp_path / "a", "--config", str(config))
    assert post_sized(from_file.url, "small", 1500).status_code == 201
    r = post_sized(from_file.url, "mid", 4096)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "PayloadTooLarge"

    env_over_file = server_factory(tmp_path / "b", "--config", str(config), env={"FERRY_MAX_BODY_BYTES": "8192"})
    assert post_sized(env_over_file.url, "mid", 4096).status_code == 201
    assert post_sized(env_over_file.url, "big", 16384).status_code == 413

    flag_over_env = server_factory(tmp_path / "c", "--config", str(config), "--max-body-bytes", "32768",
                                   env={"FERRY_MAX_BODY_BYTES": "8192"})
    assert post_sized(flag_over_env.url, "big", 16384).status_code == 201
    assert post_sized(flag_over_env.url, "huge", 65536).status_code == 413


def test_listen_and_data_dir_from_env_and_config_file(server_factory, tmp_path):
    file_dir, env_dir = tmp_path / "from-file", tmp_path / "from-env"
    config = tmp_path / "ferry.yaml"
    config.write_text(f"listen: 127.0.0.1:0\ndata-dir: {file_dir}\nlog-format: json\n")

    srv = server_factory(None, env={"FERRY_CONFIG": str(config)}, defaults=False)
    assert srv.get("/readyz").status_code == 200
    assert (file_dir / "ferry.lock").exists()
    assert srv.stop() == 0
    assert all(json.loads(line) for line in srv.stderr_lines if line.strip())

    srv = server_factory(None, "--config", str(config), env={"FERRY_DATA_DIR": str(env_dir),
                                                             "FERRY_LOG_FORMAT": "text"}, defaults=False)
    assert (env_dir / "ferry.lock").exists()
    assert srv.get("/readyz").status_code == 200
    assert srv.stop() == 0
    assert any(line.strip() and not line.startswith("{") for line in srv.stderr_lines), "FERRY_LOG_FORMAT ignored"


@pytest.mark.parametrize("text, needle", [
    ("max-body-bytes: 2048\nfrobnicate: 1\n", "frobnicate"),
    ("max-body-bytes: [1, 2]\n", "max-body-bytes"),
    ("max-body-bytes: [1\n", "ferry.yaml"),
    ("- a list\n", "ferry.yaml"),
    ("log-format: xml\n", "log-format"),
])
def test_bad_config_files_are_rejected(tmp_path, text, needle):
    config = tmp_path / "ferry.yaml"
    config.write_text(text)
    result = run_server("--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0", "--config", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr


def test_missing_config_file(tmp_path):
    result = run_server("--data-dir", str(tmp_path / "d"), "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr


# The data-dir lock.

def test_second_server_on_same_data_dir_names_the_lock_holder(server_factory, tmp_path):
    data_dir = tmp_path / "shared"
    first = server_factory(data_dir)
    second = run_server("--data-dir", str(data_dir), "--listen", "127.0.0.1:0")
    assert second.returncode == 1, second.stderr
    assert str(data_dir / "ferry.lock") in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert "listening" not in second.stdout
    assert first.get("/readyz").status_code == 200, "the refused server disturbed the running one"

    assert first.stop() == 0
    third = server_factory(data_dir)
    assert third.get("/readyz").status_code == 200


# Graceful drain on SIGTERM.

def test_sigterm_right_after_ready_exits_zero(server_factory, tmp_path):
    """The listening line is printed just before the server waits for signals: a SIGTERM in
    that window must still be a graceful stop, never the default action (death by signal)."""
    for i in range(40):
        srv = server_factory(tmp_path / f"d{i}")
        code = srv.stop(signal.SIGTERM)
        assert code == 0, f"start {i}: exit {code}\n{srv.stderr_text()[-2000:]}"


def test_sigterm_during_burst_answers_completely_and_exits_zero(server_factory, tmp_path):
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir)
    answered: List[requests.Response] = []
    created: Dict[str, str] = {}
    violations: List[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(t: int) -> None:
        with requests.Session() as session:
            for i in range(5000):
                if stop.is_set():
                    return
                name = f"drain-{t}-{i}"
                try:
                    if i % 2:
                        r = session.get(f"{srv.url}/api/v1/namespaces/default/configmaps",
                                        params={"limit": "20"}, stream=True, timeout=30)
                    else:
                        r = session.post(f"{srv.url}/api/v1/namespaces/default/configmaps",
                                         json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                                               "data": {"k": name}}, stream=True, timeout=30)
                except requests.ConnectionError:
                    continue  # No response at all: the server had stopped taking requests.
                try:
                    body = r.content
                    doc = json.loads(body)
                except (requests.RequestException, ValueError) as e:
                    with lock:
                        violations.append(f"{r.request.method} {r.url}: {r.status_code} with a broken body: {e!r}")
                    continue
                with lock:
                    answered.append(r)
                    if r.request.method == "POST" and r.status_code == 201:
                        created[name] = doc["metadata"]["uid"]
                    elif r.status_code not in (200, 201, 503):
                        violations.append(f"{r.request.method} {r.url}: {r.status_code} {body[:200]!r}")

    workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(4)]
    for w in workers:
        w.start()
    wait_until(lambda: len(created) >= 100, 120, "100 creates before SIGTERM")
    code = srv.stop(signal.SIGTERM)
    stop.set()
    for w in workers:
        w.join(timeout=60)
    assert code == 0, srv.stderr_text()[-3000:]
    assert not violations, violations[:5]

    again = server_factory(data_dir)
    for name, uid in created.items():
        r = again.get(f"/api/v1/namespaces/default/configmaps/{name}")
        assert r.status_code == 200 and r.json()["metadata"]["uid"] == uid, f"{name}: {r.status_code}"


def server_side_rx_queue(server_port: int, client_port: int) -> Optional[int]:
    """Bytes the kernel holds unread for the server's end of one loopback TCP connection, from /proc/net/tcp."""
    want_local, want_remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == want_local and fields[2] == want_remote:
            return int(fields[4].split(":")[1], 16)
    return None


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except OSError:
        return True


def test_sigterm_finishes_a_request_whose_body_is_still_arriving(server_factory, tmp_path):
    """A request the server started reading is in flight (Go's http.Server.Shutdown treats it as
    active too): SIGTERM closes the listener but this request still gets its complete answer."""
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir)
    port = int(srv.url.rsplit(":", 1)[1])
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "slow"},
                       "data": {"k": "v" * 2000}}).encode()
    head = (f"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body[:100])
        client_port = sock.getsockname()[1]
        wait_until(lambda: server_side_rx_queue(port, client_port) == 0, 30,
                   "the server to read the request head")
        srv.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: refuses_connections(port), 30, "the server to stop accepting connections")
        sock.sendall(body[100:])
        response = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
            head_end = response.find(b"\r\n\r\n")
            if head_end >= 0:
                m = re.search(rb"content-length:\s*(\d+)", response[:head_end], re.I)
                if m and len(response) >= head_end + 4 + int(m.group(1)):
                    break
    assert response.startswith(b"HTTP/1.1 201"), response[:300]
    obj = json.loads(response[response.find(b"\r\n\r\n") + 4:])
    assert obj["metadata"]["name"] == "slow"
    assert srv.proc.wait(timeout=60) == 0
    again = server_factory(data_dir)
    assert again.get("/api/v1/namespaces/default/configmaps/slow").status_code == 200


def test_sigterm_ends_open_watches_cleanly(ferry_server):
    r = requests.get(f"{ferry_server.url}/api/v1/namespaces/default/configmaps",
                     params={"watch": "true"}, stream=True, timeout=(5, 60))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert ferry_server.stop(signal.SIGTERM) == 0
    # The stream must end with a proper end of body, not a torn connection.
    for _ in r.iter_content(chunk_size=None):
        pass


# Health, version, metrics, request ids, logs.

def test_health_ready_version(ferry_server):
    r = ferry_server.get("/healthz")
    assert (r.status_code, r.text.strip()) == (200, "ok")
    assert ferry_server.get("/readyz").status_code == 200
    r = ferry_server.get("/version")
    assert r.status_code == 200 and r.json() == {"version": project_version()}


def scrape(srv: FerryServer) -> dict:
    r = srv.get("/metrics")
    assert r.status_code == 200
    ctype = r.headers["Content-Type"]
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def test_metrics_are_valid_prometheus_text(ferry_server):
    for _ in range(5):
        assert ferry_server.get("/healthz").status_code == 200
    ferry_server.get("/api/v1/namespaces/default/configmaps/missing")
    families = scrape(ferry_server)

    requests_total = families.get("ferry_http_requests")
    assert requests_total is not None and requests_total.type == "counter", sorted(families)
    assert requests_total.samples and all(s.name == "ferry_http_requests_total" for s in requests_total.samples)
    codes = {s.labels.get("code") or s.labels.get("status") for s in requests_total.samples}
    assert {"200", "404"} <= codes, requests_total.samples
    before = sum(s.value for s in requests_total.samples)

    latency = [f for f in families.values() if f.type == "histogram" and f.name.startswith("ferry_http_")
               and f.name.endswith("_seconds")]
    assert latency, "no ferry_http_*_seconds histogram"
    samples = latency[0].samples
    buckets = [s for s in samples if s.name.endswith("_bucket")]
    assert buckets and any(s.labels["le"] == "+Inf" for s in buckets)
    counts = {tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")): s.value
              for s in buckets if s.labels["le"] == "+Inf"}
    for s in samples:
        if s.name.endswith("_count"):
            assert counts[tuple(sorted(s.labels.items()))] == s.value

    proc = psutil.Process(ferry_server.pid)
    rss = families["process_resident_memory_bytes"].samples[0].value
    assert 0.5 * proc.memory_info().rss < rss < 2 * proc.memory_info().rss
    assert families["process_cpu_seconds"].type == "counter"
    start = families["process_start_time_seconds"].samples[0].value
    assert abs(start - proc.create_time()) < 5
    assert families["process_open_fds"].samples[0].value > 0

    for _ in range(3):
        ferry_server.get("/healthz")
    after = sum(s.value for s in scrape(ferry_server)["ferry_http_requests"].samples)
    assert after >= before + 3


@pytest.mark.parametrize("sent, echoed", [
    ("req-123_ABC.x", True),
    ("a" * 128, True),
    ("a" * 129, False),
    ("two words", False),
    ("inject\"},{\"x", False),
])
def test_request_ids(ferry_server, sent, echoed):
    r = ferry_server.get("/healthz", headers={"X-Request-Id": sent})
    got = r.headers.get("X-Request-Id")
    assert got
    if echoed:
        assert got == sent
    else:
        assert got != sent and re.fullmatch(r"[A-Za-z0-9._-]{1,128}", got)


def test_request_ids_are_generated_and_distinct(ferry_server):
    ids = {ferry_server.get("/healthz").headers.get("X-Request-Id") for _ in range(5)}
    assert None not in ids and len(ids) == 5
    r = ferry_server.get("/api/v1/no/such/route")
    assert r.status_code == 404 and r.headers.get("X-Request-Id")


def test_json_access_log(server_factory):
    srv = server_factory(None, "--log-format", "json")
    srv.get("/healthz", headers={"X-Request-Id": "probe-access-log"})
    srv.get("/api/v1/namespaces/default/configmaps/absent", headers={"X-Request-Id": "probe-404"})

    def access_line(request_id: str) -> Optional[dict]:
        for line in list(srv.stderr_lines):
            if request_id in line:
                return json.loads(line)
        return None

    wait_until(lambda: access_line("probe-404") is not None, 30, "the access log line")
    for rid, path, status in (("probe-access-log", "/healthz", 200),
                              ("probe-404", "/api/v1/namespaces/default/configmaps/absent", 404)):
        entry = access_line(rid)
        assert entry is not None
        values = list(entry.values())
        assert {"ts", "level", "msg"} <= entry.keys(), entry
        assert "GET" in values and path in values and (status in values or str(status) in values), entry
        assert any(isinstance(v, (int, float)) and v >= 0 and k != "status" for k, v in entry.items()), entry
    assert srv.stop() == 0
    for line in srv.stderr_lines:
        if line.strip():
            assert isinstance(json.loads(line), dict), line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_db_password_is_never_logged(tmp_path, log_format):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    secret = "s3cr3t-Pa55word"
    result = run_server("--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0", "--log-level", "trace",
                        "--log-format", log_format,
                        "--db", f"postgresql://ferry:{secret}@127.0.0.1:{closed_port}/ferry")
    assert result.returncode == 1
    assert secret not in result.stdout + result.stderr
    assert str(closed_port) in result.stderr, "the error should say which server could not be reached"
