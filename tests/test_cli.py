"""The `ferry` CLI against a real `ferry server`: apply, get, describe, delete, version, exit codes."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
from pathlib import Path
from typing import Optional

import requests
import yaml

from ferry_testing import ferry_bin, hermetic_env

DEMO = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  labels:
    app: web
data:
  greeting: hello
  target: world
"""

AGE = r"\d+[smhdy]"


def ferry(server_url: Optional[str], *args: str, input: Optional[str] = None,
          env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Runs the CLI with --server (unless None) and returns its result."""
    argv = [ferry_bin()]
    if server_url is not None:
        argv += ["--server", server_url]
    argv += list(args)
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=120, env=hermetic_env(env))


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def configmap(name: str, namespace: Optional[str] = None, labels: Optional[dict] = None,
              data: Optional[dict] = None) -> str:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if namespace:
        doc["metadata"]["namespace"] = namespace
    if labels:
        doc["metadata"]["labels"] = labels
    if data is not None:
        doc["data"] = data
    return yaml.safe_dump(doc)


def test_version_reports_client_and_server(ferry_server):
    r = ferry(ferry_server.url, "version")
    assert r.returncode == 0, r.stderr
    server_version = ferry_server.get("/version").json()["version"]
    assert r.stdout.splitlines() == [f"Client Version: {server_version}", f"Server Version: {server_version}"]


def test_version_without_server_succeeds():
    r = ferry(closed_port_url(), "version")
    assert r.returncode == 0
    assert r.stdout.startswith("Client Version: ")
    assert "Server Version: unknown (cannot reach ferry server" in r.stderr


def test_apply_creates_then_unchanged_then_configured(ferry_server, tmp_path: Path):
    manifest = tmp_path / "demo.yaml"
    manifest.write_text(DEMO)
    first = ferry(ferry_server.url, "apply", "-f", str(manifest))
    assert (first.returncode, first.stdout) == (0, "configmap/demo created\n"), first.stderr
    rv = ferry_server.get("/api/v1/namespaces/default/configmaps/demo").json()["metadata"]["resourceVersion"]

    again = ferry(ferry_server.url, "apply", "-f", str(manifest))
    assert (again.returncode, again.stdout) == (0, "configmap/demo unchanged\n"), again.stderr
    live = ferry_server.get("/api/v1/namespaces/default/configmaps/demo").json()
    assert live["metadata"]["resourceVersion"] == rv  # nothing was written

    manifest.write_text(DEMO.replace("hello", "bonjour"))
    changed = ferry(ferry_server.url, "apply", "-f", str(manifest))
    assert (changed.returncode, changed.stdout) == (0, "configmap/demo configured\n"), changed.stderr
    live = ferry_server.get("/api/v1/namespaces/default/configmaps/demo").json()
    assert live["data"] == {"greeting": "bonjour", "target": "world"}
    assert int(live["metadata"]["resourceVersion"]) > int(rv)


def test_apply_from_stdin_and_json(ferry_server):
    r = ferry(ferry_server.url, "apply", "-f", "-", input=DEMO)
    assert (r.returncode, r.stdout) == (0, "configmap/demo created\n"), r.stderr
    as_json = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"},
                          "data": {"k": "v"}})
    r = ferry(ferry_server.url, "apply", "-f", "-", input=as_json)
    assert (r.returncode, r.stdout) == (0, "configmap/from-json created\n"), r.stderr
    assert ferry_server.get("/api/v1/namespaces/default/configmaps/from-json").json()["data"] == {"k": "v"}


def test_apply_directory_in_name_order(ferry_server, tmp_path: Path):
    (tmp_path / "b.yaml").write_text(configmap("bravo"))
    (tmp_path / "a.yml").write_text(configmap("alpha") + "---\n" + configmap("alpha-two"))
    (tmp_path / "c.json").write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "charlie"}}))
    (tmp_path / "README.md").write_text("not a manifest")
    r = ferry(ferry_server.url, "apply", "-f", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["configmap/alpha created", "configmap/alpha-two created",
                                     "configmap/bravo created", "configmap/charlie created"]


def test_apply_multi_document_with_one_bad_document(ferry_server, tmp_path: Path):
    manifest = tmp_path / "mixed.yaml"
    manifest.write_text(configmap("good-one") + "---\n" + configmap("Not_Valid") + "---\n"
                        + configmap("good-two"))
    r = ferry(ferry_server.url, "apply", "-f", str(manifest))
    assert r.returncode == 1
    assert r.stdout.splitlines() == ["configmap/good-one created", "configmap/good-two created"]
    # The error names the document, the object and the server's code, message and field.
    assert f'"{manifest}" document 2' in r.stderr
    assert "Error from server (InvalidArgument)" in r.stderr
    assert "configmap/Not_Valid" in r.stderr
    assert "metadata.name" in r.stderr
    assert ferry_server.get("/api/v1/namespaces/default/configmaps/good-two").status_code == 200


def test_apply_reports_unparseable_and_unknown_documents(ferry_server):
    stream = (configmap("fine") + "---\nkey: [unclosed\n---\n"
              "apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n")
    r = ferry(ferry_server.url, "apply", "-f", "-", input=stream)
    assert r.returncode == 1
    assert r.stdout == "configmap/fine created\n"
    assert "<stdin> document 2: malformed YAML" in r.stderr
    assert ('<stdin> document 3: the server has no resource type for apiVersion "example.com/v1" '
            'and kind "Gizmo"; known types: configmaps (cm)') in r.stderr


def test_apply_nothing_is_a_usage_error(ferry_server, tmp_path: Path):
    r = ferry(ferry_server.url, "apply", "-f", "-", input="# nothing here\n")
    assert r.returncode == 2
    assert "no objects passed to apply" in r.stderr
    r = ferry(ferry_server.url, "apply", "-f", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2
    assert "does not exist" in r.stderr
    r = ferry(ferry_server.url, "apply")
    assert r.returncode == 2


def test_get_table_json_yaml_and_name(ferry_server):
    assert ferry(ferry_server.url, "apply", "-f", "-", input=DEMO).returncode == 0
    assert ferry(ferry_server.url, "apply", "-f", "-", input=configmap("a-longer-name")).returncode == 0

    table = ferry(ferry_server.url, "get", "configmaps")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert re.fullmatch(r"NAME {12}DATA   AGE", lines[0]), lines
    assert re.fullmatch(r"a-longer-name   0      " + AGE, lines[1]), lines
    assert re.fullmatch(r"demo {12}2      " + AGE, lines[2]), lines

    def without_ages(shown: str) -> str:  # the AGE column may tick over between two calls
        return re.sub(AGE + r"$", "AGE", shown, flags=re.MULTILINE)

    for kind in ("cm", "ConfigMap", "configmap", "CONFIGMAPS"):
        assert without_ages(ferry(ferry_server.url, "get", kind).stdout) == without_ages(table.stdout)

    as_json = ferry(ferry_server.url, "get", "cm", "demo", "-o", "json")
    assert as_json.returncode == 0
    obj = json.loads(as_json.stdout)
    assert obj["kind"] == "ConfigMap" and obj["data"]["greeting"] == "hello"

    listed = json.loads(ferry(ferry_server.url, "get", "cm", "-o", "json").stdout)
    assert listed["kind"] == "List"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a-longer-name", "demo"]

    as_yaml = ferry(ferry_server.url, "get", "configmap/demo", "-o", "yaml")
    assert as_yaml.returncode == 0
    doc = yaml.safe_load(as_yaml.stdout)
    assert doc["metadata"]["labels"] == {"app": "web"}
    assert doc["data"] == {"greeting": "hello", "target": "world"}

    names = ferry(ferry_server.url, "get", "cm", "-o", "name")
    assert names.stdout == "configmap/a-longer-name\nconfigmap/demo\n"


def test_get_with_label_selector(ferry_server):
    for name, app in (("web-1", "web"), ("web-2", "web"), ("db-1", "db")):
        assert ferry(ferry_server.url, "apply", "-f", "-", input=configmap(name, labels={"app": app})).returncode == 0
    r = ferry(ferry_server.url, "get", "cm", "-l", "app=web", "-o", "name")
    assert (r.returncode, r.stdout) == (0, "configmap/web-1\nconfigmap/web-2\n"), r.stderr
    r = ferry(ferry_server.url, "get", "cm", "-l", "app notin (web)", "-o", "name")
    assert (r.returncode, r.stdout) == (0, "configmap/db-1\n"), r.stderr
    bad = ferry(ferry_server.url, "get", "cm", "-l", "app in (web")
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error from server (InvalidArgument): ")


def test_get_all_namespaces(ferry_server):
    assert ferry(ferry_server.url, "apply", "-f", "-", input=configmap("here")).returncode == 0
    r = ferry(ferry_server.url, "-n", "team", "apply", "-f", "-", input=configmap("there", data={"k": "v"}))
    assert r.returncode == 0, r.stderr
    default_only = ferry(ferry_server.url, "get", "cm", "-o", "name")
    assert default_only.stdout == "configmap/here\n"
    in_team = ferry(ferry_server.url, "get", "cm", "-n", "team", "-o", "name")
    assert in_team.stdout == "configmap/there\n"
    everywhere = ferry(ferry_server.url, "get", "cm", "-A")
    assert everywhere.returncode == 0, everywhere.stderr
    lines = everywhere.stdout.splitlines()
    assert re.fullmatch(r"NAMESPACE   NAME    DATA   AGE", lines[0]), lines
    assert re.fullmatch(r"default     here    0      " + AGE, lines[1]), lines
    assert re.fullmatch(r"team        there   1      " + AGE, lines[2]), lines
    usage = ferry(ferry_server.url, "get", "cm", "here", "-A")
    assert usage.returncode == 2


def test_get_follows_continue_to_the_end(ferry_server):
    session = requests.Session()
    for i in range(503):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:04d}"}}
        resp = session.post(ferry_server.url + "/api/v1/namespaces/default/configmaps", json=body, timeout=30)
        assert resp.status_code == 201, resp.text
    r = ferry(ferry_server.url, "get", "cm", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"configmap/cm-{i:04d}" for i in range(503)]


def test_get_empty_list_says_so(ferry_server):
    r = ferry(ferry_server.url, "get", "cm")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "No resources found in default namespace.\n")
    r = ferry(ferry_server.url, "get", "cm", "-A")
    assert (r.returncode, r.stderr) == (0, "No resources found.\n")


def test_get_missing_object_exits_1(ferry_server):
    r = ferry(ferry_server.url, "get", "cm", "nope")
    assert r.returncode == 1
    assert r.stderr == 'Error from server (NotFound): configmaps "nope" not found\n'


def test_unknown_kind_and_bad_flags_exit_2(ferry_server):
    r = ferry(ferry_server.url, "get", "pods")
    assert r.returncode == 2
    assert r.stderr == ('error: the server doesn\'t have a resource type "pods"; known types: configmaps (cm), '
                        'experiments.kubeflow.org, inferenceservices.serving.kserve.io (isvc), '
                        'trials.kubeflow.org\n')
    assert ferry(ferry_server.url, "get", "cm", "--no-such-flag").returncode == 2
    assert ferry(ferry_server.url, "get", "cm", "-o", "xml").returncode == 2
    assert ferry(ferry_server.url, "frobnicate").returncode == 2
    assert ferry(ferry_server.url, "-n", "Not_A_Namespace", "get", "cm").returncode == 2
    assert ferry("ftp://example.com", "get", "cm").returncode == 2


def test_unreachable_server_exits_3_with_a_clear_message():
    url = closed_port_url()
    for args in (("get", "cm"), ("describe", "cm", "x"), ("delete", "cm", "x")):
        r = ferry(url, *args)
        assert r.returncode == 3, args
        assert r.stderr == (f"error: cannot reach ferry server at {url}: Connection refused — is `ferry server` "
                            "running? (set --server or FERRY_SERVER)\n")
    r = ferry(url, "apply", "-f", "-", input=DEMO)
    assert r.returncode == 3


def test_server_from_environment(ferry_server):
    r = ferry(None, "get", "cm", env={"FERRY_SERVER": ferry_server.url})
    assert r.returncode == 0, r.stderr
    r = ferry(None, "get", "cm", env={"FERRY_SERVER": closed_port_url()})
    assert r.returncode == 3


def test_describe(ferry_server):
    assert ferry(ferry_server.url, "apply", "-f", "-", input=DEMO).returncode == 0
    live = ferry_server.get("/api/v1/namespaces/default/configmaps/demo").json()
    r = ferry(ferry_server.url, "describe", "cm", "demo")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:7] == [
        "Name:              demo",
        "Namespace:         default",
        "Labels:            app=web",
        "Annotations:       <none>",
        f"UID:               {live['metadata']['uid']}",
        f"Resource Version:  {live['metadata']['resourceVersion']}",
        lines[6],
    ]
    assert re.fullmatch(r"Created:           \S+Z \(" + AGE + r" ago\)", lines[6]), lines[6]
    assert "\nData:\n  greeting: hello\n  target: world\n" in r.stdout
    missing = ferry(ferry_server.url, "describe", "cm", "ghost")
    assert missing.returncode == 1
    assert missing.stderr == 'Error from server (NotFound): configmaps "ghost" not found\n'


def test_delete_by_name_and_by_file(ferry_server, tmp_path: Path):
    assert ferry(ferry_server.url, "apply", "-f", "-", input=DEMO).returncode == 0
    assert ferry(ferry_server.url, "apply", "-f", "-", input=configmap("other")).returncode == 0
    r = ferry(ferry_server.url, "delete", "cm", "other", "ghost")
    assert r.returncode == 1
    assert r.stdout == 'configmap "other" deleted\n'
    assert r.stderr == 'Error from server (NotFound): configmaps "ghost" not found\n'
    assert ferry(ferry_server.url, "delete", "cm", "ghost", "--ignore-not-found").returncode == 0

    manifest = tmp_path / "demo.yaml"
    manifest.write_text(DEMO)
    r = ferry(ferry_server.url, "delete", "-f", str(manifest))
    assert (r.returncode, r.stdout) == (0, 'configmap "demo" deleted\n'), r.stderr
    assert ferry_server.get("/api/v1/namespaces/default/configmaps/demo").status_code == 404
    assert ferry(ferry_server.url, "delete", "cm").returncode == 2


def test_get_watch_prints_changes(ferry_server):
    assert ferry(ferry_server.url, "apply", "-f", "-", input=configmap("before")).returncode == 0
    proc = subprocess.Popen([ferry_bin(), "--server", ferry_server.url, "get", "cm", "--watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=hermetic_env())
    lines: list[str] = []
    seen_after = threading.Event()
    header_and_first = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) >= 2:
                header_and_first.set()
            if line.startswith("after "):
                seen_after.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert header_and_first.wait(60), lines
        assert lines[0].split() == ["NAME", "DATA", "AGE"]
        assert lines[1].startswith("before ")
        assert ferry(ferry_server.url, "apply", "-f", "-", input=configmap("after", data={"a": "1"})).returncode == 0
        assert seen_after.wait(60), lines
        assert re.fullmatch(r"after\s+1\s+" + AGE, [ln for ln in lines if ln.startswith("after ")][0])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)


def test_help_lists_every_verb_including_server():
    r = ferry(None, "--help")
    assert r.returncode == 0
    for verb in ("version", "apply", "get", "describe", "delete", "server"):
        assert re.search(rf"^\s+{verb}\s", r.stdout, re.M), verb
    for verb in ("apply", "get", "describe", "delete", "version"):
        sub = ferry(None, verb, "--help")
        assert sub.returncode == 0, verb
        assert "Usage:" in sub.stdout
