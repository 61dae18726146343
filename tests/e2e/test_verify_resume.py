"""Issue 10, finding 10: a crash during the verify step no longer breaks resume. Before: the killed run's probe
pods (Completed) stayed in the workload namespaces, the rerun waited 600 s for "workload pods not Running/Ready" and
failed; only ``verify cleanup`` got out. Now the verify (and snapshot) step first removes what its own interrupted
attempt left -- its probe run id is journaled before any pod is created -- and says so only once the deletion is
confirmed; probe pods never count as workloads. kill -9 comes from the test hook ``verify:probes=N`` (after the
N-th probe pod finished), no sleeps."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from netmig.kube.gateway import KubeGateway
from netmig.verify.identity import PROBE_RUN_LABEL
from tests.e2e.migrate_helpers import cli, make_plan, profile_puts, start_detached, stop


def _probe_leftovers(sb: Path) -> tuple[list[str], list[str]]:
    with KubeGateway(sb / "kubeconfig") as gw:
        pods = [f"{p['metadata']['namespace']}/{p['metadata']['name']}:{(p.get('status') or {}).get('phase')}"
                for p in gw.pods(label_selector=PROBE_RUN_LABEL)]
        spaces = [n["metadata"]["name"] for n in gw.namespaces() if n["metadata"]["name"].startswith("netmig-probe-")]
    return pods, spaces


def test_sigkill_while_verify_probes_then_the_rerun_removes_its_probe_pods_and_completes(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": "verify:probes=2"})
        assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
        _, spaces = _probe_leftovers(sb)
        assert spaces, "the killed verify left its probe namespace"  # the situation of the finding
        journal = [json.loads(x) for x in (tmp_path / "p.run" / "journal.jsonl").read_text().splitlines()]
        [run_id] = next(e["value"] for e in reversed(journal) if e.get("key") == "verify.probe-runs")
        assert spaces == [f"netmig-probe-{run_id}"]

        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes")
        assert res.returncode == 0, res.stderr[-3000:]
        assert (f"removed the probe pods and namespace netmig-probe-{run_id} an interrupted attempt of step verify "
                "left (deletion confirmed)") in res.stderr
        assert _probe_leftovers(sb) == ([], [])
        assert len(profile_puts(sb)) == 1
        assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
    finally:
        stop(sb)
