"""The wizard on the other migration kinds, driven by real keystrokes (prompt_toolkit pipe input) on the sandbox:
kubenet-to-overlay on kubenet + Calico (the pod CIDR question with its validation, the fallback question), and
calico-crd-cleanup, offered only when the network policy is none and Calico/Tigera leftovers are there (read through
the Kubernetes API). Each saved plan equals what ``aks-netmig plan`` makes with the printed flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from tests.cli.keys import CTRL_U, DOWN, ENTER, SPACE
from tests.cli.test_wizard import _arm_requests, _comparable, _printed, _wizard


def _same_as_printed_plan_command(output: str, saved: Path, tmp_path: Path) -> list[str]:
    """Run the printed ``aks-netmig plan`` line verbatim; its plan equals the wizard's. Returns the line."""
    plan_cmd = _printed(output, "aks-netmig plan")
    assert plan_cmd[:2] == ["aks-netmig", "plan"] and plan_cmd[plan_cmd.index("--out") + 1] == str(saved)
    by_wizard = saved.rename(tmp_path / "by-wizard.yaml")
    res = CliRunner().invoke(cli, plan_cmd[1:], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert _comparable(by_wizard) == _comparable(saved)
    assert yaml.safe_load(by_wizard.read_text())["plan_command"] == plan_cmd  # the plan records it
    return plan_cmd


def test_keystrokes_through_kubenet_to_overlay_with_a_pod_cidr_and_the_fallback(sandbox_factory: Any,
                                                                                 tmp_path: Path) -> None:
    sb = sandbox_factory("kubenet-calico", time_scale=0.002)
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        ("Migration", DOWN + ENTER),  # below the journey, the first that applies: kubenet-to-overlay
        ("Overlay pod CIDR", CTRL_U + "192.168.0.0/33" + ENTER),  # refused under the prompt ...
        ("does not appear to be an IPv4 or IPv6 network", CTRL_U + "192.168.0.0/16" + ENTER),  # ... corrected
        ("Allow this fallback", "y" + ENTER),
        ("These checks fail", SPACE + ENTER),  # accept overlay-ipblock-pod-cidr (a policy's ipBlock is the old CIDR)
        ("When should it run", ENTER),  # print the runbook commands
        ("Approve the migration now", "n" + ENTER),
        ("Save the plan as", ENTER),
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [] and len(typist.typed) == 9, typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    out = res.output
    assert "kubenet-to-overlay       applies" in out and "kubenet + calico" in out
    assert "IRREVERSIBLE" in out and "UNENFORCED WINDOW" in out  # the fallback's notes, before the question
    assert "[FAIL] overlay-ipblock-pod-cidr: pods move from 10.244.0.0/16 to 192.168.0.0/16" in out
    assert "fallback: network policy none -> Azure CNI Overlay -> network policy calico" in out
    assert "ALLOWED by this plan" in out
    assert not any(r["method"] == "PUT" for r in _arm_requests(sb.directory))
    saved = plans / "aks-kubenet-calico-kubenet-to-overlay.yaml"
    doc = yaml.safe_load(saved.read_text())
    assert doc["options"] == {"pod_cidr": "192.168.0.0/16", "allow_variants": ["fallback"]}
    assert doc["accepted"] == ["overlay-ipblock-pod-cidr"]
    assert {s["id"]: s["params"] for s in doc["steps"]}["update-network"]["pod_cidr"] == "192.168.0.0/16"

    plan_cmd = _same_as_printed_plan_command(out, saved, tmp_path)
    assert plan_cmd[plan_cmd.index("--pod-cidr") + 1] == "192.168.0.0/16" and "--allow-fallback" in plan_cmd
    assert plan_cmd[plan_cmd.index("--accept") + 1] == "overlay-ipblock-pod-cidr"
    one_go = _printed(out, "# or in one go:")
    assert {"--allow-fallback", "--pod-cidr", "192.168.0.0/16", "--approve-at-gate"} <= set(one_go)


def _listing(sandbox: Path, tmp_path: Path) -> str:
    """The wizard's list of migrations for a cluster, without a terminal (it stops at the choice when it must ask)."""
    res = CliRunner().invoke(cli, ["wizard", "--sandbox", str(sandbox), "--plans-dir", str(tmp_path / "unused")],
                             catch_exceptions=False)
    return res.output


def test_calico_crd_cleanup_is_offered_when_policy_is_none_and_calico_left_objects(sandbox_factory: Any,
                                                                                   tmp_path: Path) -> None:
    from tests.e2e.calico_helpers import uninstall_by_hand

    empty = sandbox_factory("empty", time_scale=0.002)  # policy none, Calico never installed
    assert "calico-crd-cleanup       n/a: no Calico/Tigera leftovers" in _listing(empty.directory, tmp_path)

    sb = sandbox_factory("managed-calico", time_scale=0.002)
    assert "calico-crd-cleanup       n/a: policy is calico, it needs none" in _listing(sb.directory, tmp_path)
    uninstall_by_hand(sb.directory)  # az aks update --network-policy none: CRDs, APIService, namespaces stay
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        # the journey (first), then azure-cni-to-overlay, calico-crd-cleanup and npm-to-cilium apply to Azure CNI
        # without an engine
        ("Migration", DOWN + DOWN + ENTER),
        ("When should it run", ENTER),
        ("Approve the migration now", "n" + ENTER),
        ("Save the plan as", ENTER),
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [] and len(typist.typed) == 5, typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    out = res.output
    assert ("calico-crd-cleanup       applies (leftovers: crd.projectcalico.org: 19 CRDs; operator.tigera.io: 6 CRDs; "
            "APIService v3.projectcalico.org)") in out
    assert "uninstall                n/a: the cluster already has the target profile" in out
    assert "[ok  ] calico-leftovers: to back up and delete: 25 CRDs" in out
    saved = plans / "aks-managed-calico-calico-crd-cleanup.yaml"
    assert yaml.safe_load(saved.read_text())["kind"] == "calico-crd-cleanup"
    _same_as_printed_plan_command(out, saved, tmp_path)


def test_the_wizard_offers_the_sandboxs_bundled_manifest_and_never_offers_an_unreadable_one_for_acceptance(
        sandbox_factory: Any, tmp_path: Path) -> None:
    """Issue 10, finding 1: on a sandbox cluster the wizard offers the sandbox's own tigera-operator manifest (its
    path from sandbox.json: the product does not import the sandbox); a manifest that cannot be read is a check
    that could not run, which the wizard shows but never offers for acceptance."""
    import json

    sb = sandbox_factory("managed-calico", time_scale=0.002)
    bundled = json.loads((sb.directory / "sandbox.json").read_text())["manifests"]["tigera-operator"]
    assert Path(bundled).is_file()
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans),
                           "--migration", "calico-to-self-managed"], [
        ("tigera-operator manifest to install", ENTER),  # the default: the sandbox's bundled copy
        ("When should it run", ENTER),
        ("Approve the migration now", "n" + ENTER),
        ("Save the plan as", ENTER),
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [] and len(typist.typed) == 5, typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    assert f"The sandbox ships a tigera-operator manifest: {bundled}" in res.output
    saved = plans / "aks-managed-calico-calico-to-self-managed.yaml"
    steps = {s["id"]: s for s in yaml.safe_load(saved.read_text())["steps"]}
    assert steps["install-operator"]["params"]["manifest"] == bundled

    unreadable = "https://127.0.0.1:9/tigera-operator.yaml"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(tmp_path / "other"),
                           "--migration", "calico-to-self-managed", "--set", f"install-operator.manifest={unreadable}"],
                          [])
    assert typist.errors == [] and typist.typed == [], typist.errors  # no acceptance question was put
    assert res.exit_code == 1, res.output
    assert "cannot be accepted: tigera-operator-manifest: the tigera-operator manifest could not be read" in res.output
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").glob("*.yaml"))
