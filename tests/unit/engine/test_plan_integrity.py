"""Plan integrity (issue 10, finding 9) and input validation at the edge (findings 7, 11), pure: a plan is held to
its kind's template at load -- each hand edit of finding 9 is refused in one line (exit 2) naming the problem and
the fix; files are read only when they are regular, UTF-8 text of a sane size; CIDRs, seconds, fault regexes are
checked; a plan remembers how to reach its cluster without a secret; ARM/Kubernetes faults become one line with
the cluster's state and the next command."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig.commands.failures import client_failure
from netmig.connection import for_plan
from netmig.engine.planning import load_plan, load_template, new_plan, set_step_params
from netmig.errors import UsageError
from netmig.inputs import check_seconds, cidr, read_text
from netmig.model.plan import PlanConnection
from tests.unit.engine.values import ENDPOINT, NOW, cluster, plan


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "edited.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _doc() -> dict[str, Any]:
    return yaml.safe_load(plan().to_yaml())


def _refused(tmp_path: Path, doc: dict[str, Any]) -> str:
    with pytest.raises(UsageError) as e:
        load_plan(_write(tmp_path, doc))
    assert e.value.exit_code == 2 and "\n" not in str(e.value)
    assert "make a new plan" in str(e.value)
    return str(e.value)


def test_a_plan_as_written_loads(tmp_path: Path) -> None:
    assert load_plan(_write(tmp_path, _doc())) == plan()


def test_the_hand_edits_of_finding_9_are_refused_in_one_line(tmp_path: Path) -> None:
    doc = _doc()
    doc["kind"] = "foo-to-bar"
    assert "unknown migration kind 'foo-to-bar'" in _refused(tmp_path, doc)
    doc = _doc()
    doc["format"] = 99
    assert "has format 99; this aks-netmig reads format 1" in _refused(tmp_path, doc)
    doc = _doc()
    del doc["etag"]
    assert "the etag is missing" in _refused(tmp_path, doc)
    doc = _doc()
    doc["steps"] = []
    assert "it has no steps" in _refused(tmp_path, doc)
    doc = _doc()
    next(s for s in doc["steps"] if s["id"] == "update-network")["params"] = {"policy": "none", "dataplane": "azure"}
    msg = _refused(tmp_path, doc)
    assert "step update-network asks for {'policy': 'none', 'dataplane': 'azure'}" in msg
    assert "{'policy': 'cilium', 'dataplane': 'cilium'}" in msg


def test_other_contradictions_are_refused_too(tmp_path: Path) -> None:
    doc = _doc()
    doc["arm_changes"][0]["network_profile"] = {"networkPolicy": "none"}
    assert "the ARM change(s) differ from what the steps send" in _refused(tmp_path, doc)
    doc = _doc()
    doc["arm_changes"] = []
    assert "the ARM change(s) are missing" in _refused(tmp_path, doc)
    doc = _doc()
    doc["target"]["policy"] = "none"
    assert "the target profile" in _refused(tmp_path, doc)
    doc = _doc()
    next(s for s in doc["steps"] if s["id"] == "report")["kind"] = "frobnicate"
    assert "step report: unknown step kind 'frobnicate'" in _refused(tmp_path, doc)
    doc = _doc()
    doc["steps"] = [s for s in doc["steps"] if s["id"] != "verify"]
    assert "missing: verify (verify)" in _refused(tmp_path, doc)
    doc = _doc()
    next(s for s in doc["steps"] if s["id"] == "update-network")["irreversible"] = False
    assert "step update-network: irreversible/variant is False/None" in _refused(tmp_path, doc)
    doc = _doc()
    next(s for s in doc["steps"] if s["id"] == "cilium-ready")["params"]["timeout_s"] = float("nan")
    assert "step cilium-ready (wait-daemonset): param timeout_s input should be a finite number (got nan)" in \
        _refused(tmp_path, doc)


def test_step_parameters_plan_set_may_change_stay_editable(tmp_path: Path) -> None:
    doc = _doc()
    next(s for s in doc["steps"] if s["id"] == "cilium-ready")["params"]["timeout_s"] = 1200
    assert load_plan(_write(tmp_path, doc)).step("cilium-ready").params["timeout_s"] == 1200


def test_set_refuses_the_network_profile_and_bad_numbers() -> None:
    p = plan()
    with pytest.raises(UsageError, match=r"--set cannot change update-network\.policy"):
        set_step_params(p, {"update-network": {"policy": "none"}})
    with pytest.raises(UsageError, match="timeout_s=-5 is not a finite number > 0"):
        set_step_params(p, {"cilium-ready": {"timeout_s": -5}})


def test_a_plan_from_a_template_file_is_held_to_that_file(tmp_path: Path) -> None:
    doc = yaml.safe_load((Path(__file__).resolve().parents[3] / "plans" / "npm-to-cilium.yaml").read_text())
    doc["kind"] = "custom-npm-to-cilium"
    tfile = _write(tmp_path, doc, "custom.yaml")
    t = load_template(str(tfile))
    p = new_plan(t, cluster(), arm_endpoint=ENDPOINT, now=NOW)
    p.template = str(tfile)
    path = tmp_path / "p.yaml"
    path.write_text(p.to_yaml())
    assert load_plan(path).kind == "custom-npm-to-cilium"
    tfile.unlink()
    with pytest.raises(UsageError, match=r"the template .*custom\.yaml this plan was made from is gone"):
        load_plan(path)


def test_files_are_read_only_when_regular_utf8_text_of_a_sane_size(tmp_path: Path) -> None:
    fix = "make a new one"
    (tmp_path / "d").mkdir()
    os.mkfifo(tmp_path / "fifo")  # reading it would block: refused by type, never opened
    (tmp_path / "bin").write_bytes(b"kind: x\x00\xff")
    (tmp_path / "latin1").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "big").write_text("x" * 2000)
    (tmp_path / "ok").write_text("kind: ok\n")
    cases = {"nope": "does not exist", "d": "is a directory", "fifo": "is not a regular file", "bin": "binary",
             "latin1": "is not UTF-8 text (byte 3)", "big": "is too large (2000 bytes; at most 1000)"}
    for name, expected in cases.items():
        with pytest.raises(UsageError, match=re.escape(expected)) as e:
            read_text(tmp_path / name, "plan", fix, max_bytes=1000)
        assert str(e.value).startswith(f"plan {tmp_path / name} ") and str(e.value).endswith("; make a new one")
    assert read_text(tmp_path / "ok", "plan", fix) == "kind: ok\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("abc", "is not a CIDR"), ("10.244.0.0", "is not a CIDR"), ("10.244.0.1/16", "has host bits set"),
    ("10.244.0.0/33", "is not a CIDR"), ("", "is not a CIDR")])
def test_bad_cidrs_are_refused(text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        cidr(text)


def test_good_cidrs_are_normalised_and_new_plan_checks_them_too() -> None:
    assert cidr(" 192.168.0.0/16 ") == "192.168.0.0/16" and cidr("fd00::/64") == "fd00::/64"
    with pytest.raises(UsageError, match="is not a CIDR"):
        new_plan(load_template("kubenet-to-overlay"), cluster(), arm_endpoint=ENDPOINT, pod_cidr="abc")


@pytest.mark.parametrize("value", [-5.0, 0.0, float("nan"), float("inf"), float("-inf")])
def test_seconds_must_be_finite_and_positive(value: float) -> None:
    with pytest.raises(UsageError, match="--stall-timeout must be a finite number of seconds > 0"):
        check_seconds(value, "--stall-timeout")
    assert check_seconds(600, "--stall-timeout") == 600.0 and check_seconds(None, "--x") is None


def test_a_plan_remembers_its_connection_and_flags_override(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    sb.mkdir()
    ref = cluster().ref
    (sb / "sandbox.json").write_text(json.dumps({
        "subscription_id": ref.subscription_id, "resource_group": ref.resource_group, "cluster_name": ref.name,
        "arm_endpoint": "https://127.0.0.1:4", "ca_bundle": None, "token": "t0ken"}))
    p = plan()
    p.connection = PlanConnection(sandbox=str(sb))
    t = for_plan(p)
    assert (t.endpoint, t.static_token, t.sandbox, t.ref) == ("https://127.0.0.1:4", "t0ken", str(sb.resolve()), ref)
    assert "t0ken" not in p.to_yaml() and "t0ken" not in repr(t)
    other = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerService/managedClusters/c"
    assert for_plan(p, cluster=other).ref.name == "c"  # a flag wins
    (sb / "sandbox.json").unlink()
    with pytest.raises(UsageError, match=r"the plan's sandbox .* is not running"):
        for_plan(p)
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    p.connection = PlanConnection(ca_bundle=str(pem))
    t = for_plan(p)
    assert (t.ref, t.endpoint, t.ca_bundle, t.static_token) == (ref, ENDPOINT, str(pem), None)


def test_a_fault_that_would_break_the_sandbox_is_refused() -> None:
    from netmig_sandbox.faults import Faults

    for bad, expected in [({"target": "arm", "path": "("}, "not a valid regular expression"),
                          ({"target": "arm", "status": 999}, "not an HTTP status"),
                          ({"target": "lro", "kind": "status"}, "does not apply to target lro"),
                          ({"target": "disk"}, "unknown fault target"), ({"target": "arm", "times": -1}, "times")]:
        with pytest.raises(ValueError, match=expected):
            Faults.from_dict(bad)


def test_client_faults_become_one_line_with_the_cluster_state_and_the_next_command(tmp_path: Path) -> None:
    from netmig.azure.errors import Temporary
    from netmig.journal import Journal
    from netmig.kube.errors import Forbidden

    p = plan()
    rerun = ["aks-netmig", "apply", "plans/p.yaml", "--yes"]
    e = client_failure(Forbidden("leases is forbidden", 403), p, tmp_path, rerun)
    assert str(e) == ("Kubernetes API: leases is forbidden (permission: the identity needs the role the runbook "
                      "names); cluster state: nothing was changed on the cluster; next: rerun aks-netmig apply "
                      "plans/p.yaml --yes once the cause is fixed")
    assert not e.cluster_changed and e.exit_code == 1
    Journal(tmp_path / "journal.jsonl").record("arm-put", step="update-network", attempt=1)
    e = client_failure(Temporary("reading cluster rg/c: InternalServerError: boom", None, 500), p, tmp_path, rerun)
    assert e.cluster_changed
    assert str(e) == ("ARM: reading cluster rg/c: InternalServerError: boom (after retries); cluster state: the "
                      "network-profile change of step update-network was sent; the ARM operation goes on without "
                      "aks-netmig (its reimage is watched again on the rerun); next: see aks-netmig status "
                      "plans/p.yaml, then rerun aks-netmig apply plans/p.yaml --yes once the cause is fixed")


def test_credential_failures_are_summarised_by_source_never_dumped() -> None:
    from netmig.azure.gateway import credential_summary

    dump = ("DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted "
            "credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication unavailable. secret=xyz\n"
            "\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable\n"
            "\tAzureCliCredential: Azure CLI not found on path\nTo mitigate this issue, please refer to ...")
    line = credential_summary(Exception(dump))
    assert line == ("no Azure credential is available (DefaultAzureCredential tried environment variables, "
                    "managed identity, Azure CLI; none signed in)")
