"""``aks-netmig policy`` on real manifest files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from tests.unit.policy.helpers import netpol, ns, pod, svc

OBJS = [ns("x"), pod("a", labels={"app": "a"}, ip="10.0.0.1"), pod("b", labels={"app": "b"}, ip="10.0.0.2"),
        netpol("by-cidr", {"podSelector": {"matchLabels": {"app": "b"}},
                           "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]})]


def write(tmp: Path, objs: list[dict[str, Any]], name: str = "m.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump_all(objs))
    return p


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["policy", *args])


def test_reachability_json(tmp_path: Path) -> None:
    write(tmp_path, OBJS)
    r = run("reachability", str(tmp_path), "--engine", "cilium", "--json", "--by", "pod")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["engine"] == "cilium"
    cells = {(c["src"], c["dst"], c["port"], c["protocol"]): c["allowed"] for c in data["results"]}
    assert cells[("x/a", "x/b", 80, "TCP")] is False
    assert cells[("x/b", "x/a", 80, "TCP")] is True
    assert len(cells) == 4


def test_reachability_with_ports_and_json_file_and_list(tmp_path: Path) -> None:
    (tmp_path / "l.json").write_text(json.dumps({"kind": "List", "items": OBJS}))
    r = run("reachability", str(tmp_path / "l.json"), "--engine", "spec", "--port", "80/TCP", "--port", "53/udp",
            "--json", "--by", "pod")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)["results"]
    assert {(c["port"], c["protocol"]) for c in res} == {(80, "TCP"), (53, "UDP")}
    assert len(res) == 8


def test_reachability_human_matrix(tmp_path: Path) -> None:
    write(tmp_path, OBJS)
    r = run("reachability", str(tmp_path), "--engine", "cilium", "--by", "pod")
    assert r.exit_code == 0
    assert "80/TCP" in r.output and "✗" in r.output and "[1] x/b" in r.output


def test_empty_input_is_valid(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    r = run("reachability", str(tmp_path), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["results"] == []
    r = run("analyze", str(tmp_path), "--target", "cilium", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["findings"] == []


def test_analyze_exit_codes(tmp_path: Path) -> None:
    ok = write(tmp_path, [ns("x"), pod("a", ip="10.0.0.1")], "ok.yaml")
    assert run("analyze", str(ok), "--target", "cilium").exit_code == 0
    bad = write(tmp_path, OBJS, "bad.yaml")
    r = run("analyze", str(bad), "--target", "cilium", "--source", "npm", "--json")
    assert r.exit_code == 1
    rules = {f["rule"] for f in json.loads(r.output)["findings"]}
    assert {"ip-block", "connectivity-change"} <= rules
    f = json.loads(r.output)["findings"][0]
    assert {"rule", "kind", "namespace", "name", "severity", "message"} <= set(f)


def test_analyze_warning_only_exits_zero(tmp_path: Path) -> None:
    p = write(tmp_path, [netpol("out", {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})])
    r = run("analyze", str(p), "--target", "cilium", "--json")
    assert r.exit_code == 0, r.output
    assert [f["severity"] for f in json.loads(r.output)["findings"]] == ["warning"]


def test_unusable_input_exits_2_with_one_line(tmp_path: Path) -> None:
    r = run("analyze", str(tmp_path / "missing.yaml"), "--target", "cilium")
    assert r.exit_code == 2
    (tmp_path / "broken.yaml").write_text("kind: Pod\n  metadata: [")
    r = run("analyze", str(tmp_path / "broken.yaml"), "--target", "cilium")
    assert r.exit_code == 2 and "broken.yaml" in r.output
    (tmp_path / "scalar.yaml").write_text("just a string\n")
    assert run("reachability", str(tmp_path / "scalar.yaml")).exit_code == 2
    assert run("reachability", str(tmp_path), "--port", "http").exit_code == 2
    assert run("analyze", "--target", "cilium").exit_code == 2


def test_invalid_policy_in_manifest_is_error_finding(tmp_path: Path) -> None:
    p = write(tmp_path, [netpol("bad", {"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 9}]}]})])
    r = run("analyze", str(p), "--target", "cilium", "--json")
    assert r.exit_code == 1
    assert json.loads(r.output)["findings"][0]["rule"] == "invalid-policy"


def test_diff_json_and_human(tmp_path: Path) -> None:
    write(tmp_path, [*OBJS, svc("lb", {"app": "b"})])
    r = run("diff", str(tmp_path), "--from", "npm", "--to", "cilium", "--json", "--by", "pod")
    assert r.exit_code == 0, r.output
    changes = json.loads(r.output)["changes"]
    assert [(c["src"], c["dst"], c["port"], c["from"], c["to"]) for c in changes] == [("x/a", "x/b", 80, True, False)]
    assert "x/by-cidr" in changes[0]["policies"]
    r = run("diff", str(tmp_path), "--from", "npm", "--to", "calico")
    assert r.exit_code == 0 and "no connectivity changes" in r.output
