"""Issue 10, finding 1 and the exit-code half of item 2: the point of no return is proven, not hoped.

- A tigera-operator manifest that cannot be downloaded is a check that could NOT RUN (outcome ``error``): ``plan
  --accept`` and ``accepted:`` in the plan file cannot let it pass; apply refuses before the PUT (exit 1, no PUT,
  the cluster still managed Calico). Before the fix: the PUT to network policy none went out, every node was
  reimaged, install-operator failed and apply exited 2 ("nothing was changed").
- The manifest is pinned in the run folder at preflight and re-checked right before the PUT: a pinned copy that
  changed stops the run before the PUT; the pinned copy (not the source) is what gets installed.
- A failure after the PUT exits 4 and its last line names the cluster's state and the exact next command; 1 and 2
  keep meaning "nothing was changed".
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli as netmig_cli
from netmig_sandbox.faults import Fault
from tests.e2e.calico_helpers import MANIFEST, assert_self_managed, state
from tests.e2e.migrate_helpers import profile_puts

KIND = "calico-to-self-managed"
UNREACHABLE = "https://127.0.0.1:9/tigera-operator.yaml"  # nothing listens on the discard port: cannot download


def _run(*args: Any) -> Any:
    return CliRunner().invoke(netmig_cli, [str(a) for a in args], catch_exceptions=False)


def _last_line(res: Any) -> str:
    return res.output.strip().splitlines()[-1]


def test_an_unreadable_manifest_cannot_be_accepted_and_apply_refuses_before_the_put(sandbox_factory: Any,
                                                                                     tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    plan = tmp_path / "c.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", KIND, "--out", plan,
               "--set", f"install-operator.manifest={UNREACHABLE}", "--accept", "tigera-operator-manifest")
    assert res.exit_code == 1, res.output
    assert "--accept tigera-operator-manifest: a check that could not run" in res.output
    assert "cannot be accepted" in res.output
    row = next(r for r in yaml.safe_load(plan.read_text())["preflight"] if r["check"] == "tigera-operator-manifest")
    assert row["outcome"] == "error" and row["accepted"] is False and row["acceptable"] is False
    assert "could not be read" in row["reason"] and "cannot download" in row["reason"]

    # the plan file accepts it by hand: apply still refuses at preflight, before the PUT; nothing was changed
    doc = yaml.safe_load(plan.read_text())
    assert doc["accepted"] == ["tigera-operator-manifest"]
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 1, res.output
    assert "tigera-operator-manifest" in res.output and "could not run: cannot be accepted" in res.output
    assert profile_puts(sb.directory) == []
    assert state(sb.directory).profile == {"plugin": "azure", "policy": "calico", "state": "Succeeded"}
    last = _last_line(res)
    assert last.startswith("cluster unchanged (azure-cni + calico), nothing was changed; next: aks-netmig apply")


def test_the_manifest_is_pinned_rechecked_before_the_put_and_the_pinned_copy_is_installed(sandbox_factory: Any,
                                                                                          tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    source = tmp_path / "reviewed" / "tigera-operator.yaml"
    source.parent.mkdir()
    shutil.copy(MANIFEST, source)
    plan = tmp_path / "c.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", KIND, "--out", plan,
               "--set", f"install-operator.manifest={source}")
    assert res.exit_code == 0, res.output
    # no terminal, no --yes: preflight (pins), snapshot, backup, export run; the approval gate pauses (exit 3)
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect")
    assert res.exit_code == 3, res.output
    pinned = tmp_path / "c.run" / "pinned" / "install-operator-tigera-operator.yaml"
    assert pinned.read_bytes() == MANIFEST.read_bytes()
    original = pinned.read_bytes()
    source.unlink()  # the source goes away after review: the pinned copy is what counts from now on
    pinned.write_bytes(original.replace(b"tigera-operator", b"tigera-0perator", 1))  # and it is tampered with
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 1, res.output
    assert "not sending the network-profile change of step policy-none" in res.output
    assert f"the pinned manifest {pinned} is missing or changed" in res.output
    assert profile_puts(sb.directory) == []
    assert _last_line(res).startswith("cluster unchanged (azure-cni + calico), nothing was changed; next:")

    pinned.write_bytes(original)  # the reviewed copy back: the run goes on and installs it (the source is gone)
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1
    assert_self_managed(state(sb.directory))


def test_a_failure_after_the_put_exits_4_naming_the_unenforced_state_and_the_resume_command(
        sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    plan = tmp_path / "c.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", KIND, "--out", plan,
               "--set", f"install-operator.manifest={MANIFEST}")
    assert res.exit_code == 0, res.output
    # the operator's Deployment cannot be applied (RBAC): install-operator fails after the PUT and the reimage
    fault = Fault(target="kube", method="PATCH", path="/namespaces/tigera-operator/deployments", status=403,
                  code="Forbidden", message="deployments.apps is forbidden", times=None)
    sb.context.faults.add(fault)
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 4, res.output
    assert len(profile_puts(sb.directory)) == 1
    last = _last_line(res)
    assert last.startswith("cluster is at azure-cni + none: NetworkPolicies are NOT enforced; "
                           "self-managed Calico is partly installed (step install-operator)"), last
    assert last.endswith(f"resume with: aks-netmig apply {plan} --sandbox {sb.directory} --yes --no-prefect")
    sb.context.faults.clear()
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1
    assert_self_managed(state(sb.directory))
