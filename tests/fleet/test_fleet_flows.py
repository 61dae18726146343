"""The fleet flows as deployments on a real Prefect server and process worker (prefect.yaml's entries):

- ``fleet-scan``: the scan of the sandbox fleet as a flow run, its Markdown report and its table as artifacts;
- ``fleet``: a wave needing approval suspends the run with the approval form (approve, approver, comment; the
  wave as its description); a rejection ends the run Cancelled naming who, an approval starts the wave's clusters;
  both answers are in the state file and the fleet report.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from netmig.commands.fleet_plan import write_wave_plan
from netmig.fleet.waves import Wave, WaveCluster, WavePlan
from netmig_sandbox.fleet import FleetSandbox
from tests.flows.test_deployments import _cli, _healthy, _poll, _wait, prefect_stack


def _wave_plan(path: Path) -> None:
    def c(name: str) -> WaveCluster:  # a cluster no migration can reach: its member run fails at once
        return WaveCluster(f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"
                           f"managedClusters/{name}", name, "s", "npm-to-cilium", False, 2,
                           plan_file=str(path.parent / f"{name}.yaml"))
    write_wave_plan(WavePlan([Wave(0, True, False, [c("c0")]), Wave(1, False, True, [c("c1")])], [], 1,
                             "per-wave"), path)


async def _final(client: Any, run_id: Any) -> Any:
    s = (await client.read_flow_run(run_id)).state
    return s if s is not None and s.is_final() else None


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_scan_flow_and_wave_approval_form_on_deployments(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    waves = tmp_path / "rollout" / "waves.yaml"
    _wave_plan(waves)
    with prefect_stack(tmp_path) as (url, env, start_worker), \
            FleetSandbox(tmp_path / "fleet", time_scale=0.01) as fleet:
        _wait("the Prefect server", lambda: _healthy(url, tmp_path / "server.log"), 150, every=1)
        _cli(env, "work-pool", "create", "netmig-process", "--type", "process")
        _cli(env, "--no-prompt", "deploy", "--name", "fleet-scan", "--name", "fleet", "--name", "fleet-member",
             timeout=180)
        start_worker()
        with temporary_settings(updates={PREFECT_API_URL: url}):
            asyncio.run(_scenario(fleet.directory, waves))


async def _scenario(sandbox: Path, waves: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment

    async with get_client() as client:
        scan = await run_deployment("netmig-fleet-scan/fleet-scan", timeout=0,
                                    parameters={"sandbox": str(sandbox), "out_dir": str(waves.parent)})
        s = await _poll("the scan run to end", lambda: _final(client, scan.id), 300)
        assert s.type == StateType.COMPLETED, s
        arts = {a.key: a for a in await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[scan.id]))) if a.key}
        assert {"fleet-scan", "fleet-scan-table"} <= set(arts) and all(a.description for a in arts.values())
        assert str(arts["fleet-scan"].data).startswith("# AKS fleet scan") and "aks-npm-dev" in str(
            arts["fleet-scan"].data)
        table = arts["fleet-scan-table"].data
        rows = json.loads(table) if isinstance(table, str) else table
        assert len(rows) == 12 and {"name", "recommended", "blockers"} <= set(rows[0])
        assert len(json.loads((waves.parent / "fleet-scan.json").read_text())["clusters"]) == 12

        async def ask(approve: bool, who: str, comment: str) -> tuple[Any, Any]:
            run = await run_deployment("netmig-fleet/fleet", timeout=0, parameters={
                "wave_plan": str(waves), "exclude": ["c0"], "poll_seconds": 0.5})

            async def suspended() -> Any:
                st = (await client.read_flow_run(run.id)).state
                assert st is not None and not st.is_final(), st
                return st if st.is_paused() else None

            st = await _poll("the fleet run to wait for wave 1's approval", suspended, 300)
            assert st.name == "Suspended"
            keyset = st.state_details.run_input_keyset
            assert keyset is not None
            form = await _poll("the form's description", lambda: _description(client, run.id, keyset), 60)
            assert "Start wave-1 of the fleet rollout?" in form and "| c1 | npm-to-cilium |" in form
            await client.resume_flow_run(run.id, run_input={"approve": approve, "approver": who, "comment": comment})
            return run, await _poll("the fleet run to end", lambda: _final(client, run.id), 300)

        _, s = await ask(False, "bob", "not this week")
        assert s.type == StateType.CANCELLED and "rejected by bob: not this week" in (s.message or ""), s
        state = json.loads(waves.with_name("waves.yaml.state.json").read_text())
        assert state["approvals"] == [{"wave": 1, "approved": False, "approver": "bob", "comment": "not this week",
                                       "time": state["approvals"][0]["time"], "via": "prefect-ui"}]
        assert not next(c for c in state["clusters"] if c["name"] == "c1")["flow_run_id"]

        run, s = await ask(True, "carol", "CHG-1")
        # approved: c1 starts as a member run; it cannot reach its cluster, fails, and the failure budget halts
        assert s.type == StateType.FAILED and "halted at wave-1" in (s.message or ""), s
        state = json.loads(waves.with_name("waves.yaml.state.json").read_text())
        assert state["approvals"][0]["approver"] == "carol" and state["approvals"][0]["approved"]
        c1 = next(c for c in state["clusters"] if c["name"] == "c1")
        assert c1["flow_run_id"] and c1["state"] == "failed"
        report = (waves.with_name("waves.run") / "fleet-report.md").read_text()
        assert "| 1 | approved | carol |" in report and "CHG-1" in report and "**HALTED**" in report
        # the run's artifacts: the dashboard table (latest version), the report, the picture; each described
        arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
        latest: dict[str, Any] = {}
        for a in sorted(arts, key=lambda a: a.created or 0):
            if a.key:
                latest[a.key.split("-")[2] if a.key.count("-") > 2 else "dashboard"] = a
        assert {"dashboard", "report", "progress"} <= set(latest), sorted(a.key or "" for a in arts)
        assert all(a.description for a in latest.values())
        data = latest["dashboard"].data
        table = json.loads(data) if isinstance(data, str) else data
        assert {"wave", "cluster", "state", "step", "reimage", "verification", "flow_run"} <= set(table[0])
        assert "data:image/png;base64," in str(latest["progress"].data)
        assert str(latest["report"].data).startswith("# Fleet rollout report")


async def _description(client: Any, run_id: Any, keyset: dict[str, str]) -> Any:
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        return await client.read_flow_run_input(run_id, keyset["description"])
    except PrefectHTTPStatusError as e:
        if e.response.status_code == 404:
            return None
        raise
