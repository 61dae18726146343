"""The Ctrl-C matrix (issue 10, finding 2): SIGINT -- to the whole process group, as a terminal sends it -- at each
step boundary and inside each wait of npm-to-cilium and uninstall (the reimage watch, the DaemonSet wait, the
verify probing, the cleanup): `aks-netmig apply` exits 130 within 5 s with one line and no traceback, the journal
records where it stopped, the cluster Lease is released unless the network-profile change it sent may still be
running (then kept, and the line says so), the rerun resumes, and the sandbox's ARM log shows exactly ONE
network-profile PUT per change. Each chain interrupts successive points of one migration on one detached sandbox
(every rerun resumes the previous one), with the library runner (`--no-prefect`); the Prefect path, SIGTERM,
the wizard's run, `verify` and `restore` have their own cells. The signal is delivered at a point the command
reached (NETMIG_TEST_PAUSE_AT), never after a sleep.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.e2e.interrupt_helpers import BOUND_S, interrupt_at, journal, lease_exists
from tests.e2e.migrate_helpers import cli, make_plan, profile_puts, start_detached, stop

NPM_CHAINS = {
    "before-the-put": ["preflight:before", "snapshot:probing", "backup:before", "approval:before", "lock:before",
                       "update-network:before", "update-network:put-sent"],
    "after-the-put": ["lock:after", "watch-reimage:event=3", "watch-reimage:after", "cilium-ready:waiting",
                      "verify:probing", "report:before", "unlock:before"],
}
UNINSTALL_CHAIN = ["preflight:before", "snapshot:probing", "approval:before", "lock:before",
                   "watch-reimage:event=2", "confirm-none:before", "calico-backup:before", "crd-cleanup:deleted=3",
                   "unenforced-policies:before", "verify:probing", "report:before", "unlock:before"]
CHANGE_STEPS = {"update-network", "policy-none"}


def _step_of(point: str) -> str | None:
    """The step the journal must name as running (None: between steps)."""
    step, _, where = point.partition(":")
    return None if where in ("before", "after") else step


def _interrupt_chain(plan: Path, sb: Path, points: list[str], tmp: Path, sig: int = signal.SIGINT) -> None:
    run_dir = plan.with_name(plan.stem + ".run")
    for point in points:
        res = interrupt_at(["apply", str(plan), "--sandbox", str(sb), "--yes"], point, sig=sig, cwd=tmp)
        name = signal.Signals(sig).name
        assert res.rc == 130, (point, res.rc, res.stderr[-3000:])
        assert res.elapsed < BOUND_S, (point, res.elapsed)
        assert "Traceback" not in res.stderr, (point, res.stderr[-3000:])
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: interrupted ({name})"), (point, last)
        assert f"aks-netmig apply {plan}" in last, last
        event = journal(run_dir)[-1]
        assert event["event"] == "run-interrupted" and event["signal"] == name, (point, event)
        assert event["step"] == _step_of(point), (point, event)
        if event["operation"]:  # the PUT went out and its reimage is not watched to the end: the lease stays
            assert event["lease"] == "kept" and "lock kube-system/aks-netmig-lock is kept" in last, (point, event)
            assert lease_exists(sb), point
        else:
            assert event["lease"] in ("released", "none"), (point, event)
            assert not lease_exists(sb), point
        if _step_of(point) is not None:
            [stopped] = [e for e in journal(run_dir) if e["event"] == "step-interrupted"
                         and e["step"] == _step_of(point) and e["run_id"] == event["run_id"]]
            assert stopped["signal"] == name


def _finish(plan: Path, sb: Path, changes: int) -> None:
    res = cli("apply", str(plan), "--sandbox", str(sb), "--yes")
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(profile_puts(sb)) == changes
    assert "**PASSED**" in plan.with_name(plan.stem + ".run").joinpath("report.md").read_text()
    assert not lease_exists(sb)


@pytest.mark.e2e
@pytest.mark.parametrize("chain", sorted(NPM_CHAINS))
def test_ctrl_c_at_every_point_of_npm_to_cilium_exits_130_fast_and_resumes_with_one_put(chain: str,
                                                                                        tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        if chain == "after-the-put":  # get to the lock first (a plain run stopped there by a SIGINT)
            _interrupt_chain(plan, sb, ["lock:before"], tmp_path)
        _interrupt_chain(plan, sb, NPM_CHAINS[chain], tmp_path)
        _finish(plan, sb, changes=1)
    finally:
        stop(sb)


@pytest.mark.e2e
def test_ctrl_c_at_every_point_of_uninstall_exits_130_fast_and_resumes_with_one_put(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb, "managed-calico")
    try:
        plan = tmp_path / "u.yaml"
        res = cli("plan", "--sandbox", str(sb), "--migration", "uninstall", "--out", str(plan),
                  "--accept", "policies-unenforced")
        assert res.returncode == 0, res.stderr[-3000:]
        _interrupt_chain(plan, sb, UNINSTALL_CHAIN, tmp_path)
        _finish(plan, sb, changes=1)
    finally:
        stop(sb)


@pytest.mark.e2e
def test_sigterm_in_the_reimage_watch_is_an_interrupt_too(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        _interrupt_chain(plan, sb, ["watch-reimage:event=2"], tmp_path, sig=signal.SIGTERM)
        _finish(plan, sb, changes=1)
    finally:
        stop(sb)


@pytest.mark.e2e
def test_ctrl_c_in_the_wizards_run_exits_130_and_names_the_resume_command(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "w.yaml"
        res = interrupt_at(["wizard", "--sandbox", str(sb), "--migration", "npm-to-cilium", "--accept",
                            "policy-analysis", "--then", "run", "--yes", "--out", str(plan)],
                           "watch-reimage:event=2", cwd=tmp_path)
        assert res.rc == 130, res.stderr[-3000:]
        assert res.elapsed < BOUND_S, res.elapsed
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
        assert "interrupted (SIGINT) in step watch-reimage" in res.stderr
        assert journal(tmp_path / "w.run")[-1]["event"] == "run-interrupted"
        _finish(plan, sb, changes=1)
    finally:
        stop(sb)


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_verify_snapshot_interrupted_while_probing_exits_130_fast(sig: int, tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        res = interrupt_at(["verify", "snapshot", "--sandbox", str(sb), "--out", str(tmp_path / "s.json")],
                           "verify:probing", sig=sig, cwd=tmp_path)
        assert res.rc == 130, res.stderr[-3000:]
        assert res.elapsed < BOUND_S, res.elapsed
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
        assert not (tmp_path / "s.json").exists()
    finally:
        stop(sb)


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_restore_interrupted_exits_130_fast_and_a_rerun_completes(sig: int, tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": "approval:before"})
        assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
        [backup] = sorted((tmp_path / "p.run").glob("backup-*"))
        gone = _delete_policies(sb)  # something to restore
        assert gone, "the npm scenario has NetworkPolicies"
        res = interrupt_at(["restore", str(backup), "--sandbox", str(sb)], "restore:progress", sig=sig,
                           cwd=tmp_path)
        assert res.rc == 130, res.stderr[-3000:]
        assert res.elapsed < BOUND_S, res.elapsed
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
        cli("restore", str(backup), "--sandbox", str(sb))  # the rerun puts back what is still missing
        assert not _missing(sb, gone), res.stderr[-3000:]
    finally:
        stop(sb)


def _missing(sb: Path, policies: list[str]) -> list[str]:
    import subprocess

    got = subprocess.run(["kubectl", "--kubeconfig", str(sb / "kubeconfig"), "get", "networkpolicies", "-A", "-o",
                          "json"], capture_output=True, text=True, timeout=60, check=True)
    have = {f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in json.loads(got.stdout)["items"]}
    return [p for p in policies if p not in have]


def _delete_policies(sb: Path) -> list[str]:
    import subprocess

    kc = ["kubectl", "--kubeconfig", str(sb / "kubeconfig")]
    got = subprocess.run([*kc, "get", "networkpolicies", "-A", "-o", "json"], capture_output=True, text=True,
                         timeout=60, check=True)
    items = json.loads(got.stdout)["items"][:3]
    for p in items:
        subprocess.run([*kc, "-n", p["metadata"]["namespace"], "delete", "networkpolicy", p["metadata"]["name"]],
                       capture_output=True, text=True, timeout=60, check=True)
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in items]


@pytest.mark.e2e
def test_ctrl_c_at_the_approval_prompt_is_an_interrupt_not_a_no(tmp_path: Path) -> None:
    """Inside the approval wait: Ctrl-C typed at the terminal's prompt (a key in raw mode) ends apply with 130
    within 5 s, records the interruption at the gate (not a rejection), and the rerun completes."""
    import time

    from tests.cli.test_wizard_tty import ROOT, Terminal

    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        term = Terminal(["apply", str(plan), "--sandbox", str(sb)], cwd=ROOT)
        term.expect("Approve this migration?")
        os_write_at = time.monotonic()
        term.type("\x03")
        rc = term.wait()
        elapsed = time.monotonic() - os_write_at
        assert rc == 130, term.screen[-3000:]
        assert elapsed < BOUND_S + 0.1, elapsed  # (type() waits 0.1 s before it writes the key)
        assert "Traceback" not in term.screen and "not approved" not in term.screen, term.screen[-3000:]
        events = journal(tmp_path / "p.run")
        assert events[-1]["event"] == "run-interrupted" and events[-1]["step"] == "approval", events[-1]
        assert not [e for e in events if e["event"] == "step-failed"]
        assert not lease_exists(sb)
        _finish(plan, sb, changes=1)
    finally:
        stop(sb)
