"""The netmig-journey flow under the real Prefect engine, against the sandbox: it plans the journey (the file does
not exist yet), runs both stages with auto_approve, and publishes the plan's explanation and the journey report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from flows.journey import journey
from flows.params import ClusterAddress


def test_journey_flow_plans_and_runs_every_stage(prefect_server: None, sandbox_factory: Any,
                                                 tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    sb = sandbox_factory("azure-cni", time_scale=0.002)
    path = tmp_path / "journey.yaml"
    state = journey(str(path), ClusterAddress(sandbox=str(sb.directory)), goal="overlay-cilium",
                    pod_cidr="192.168.0.0/16", accept=["policy-analysis"], auto_approve=True, return_state=True)
    assert state.is_completed(), state
    result = state.result()
    assert result["plan"]["route"] == "azure-cni -> overlay -> overlay-cilium"
    assert [s["kind"] for s in result["apply"]["stages"]] == ["azure-cni-to-overlay", "npm-to-cilium"]
    report = Path(result["apply"]["report"]).read_text()
    assert "- final profile: overlay-cilium" in report
    assert sb.info["token"] not in path.read_text() + report
    assert sb.run(lambda ctx: (ctx.arm.profile.get("networkPluginMode"), ctx.arm.profile["networkDataplane"])) \
        == ("overlay", "cilium")

    async def keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    assert {"journey-plan", "journey-report"} <= asyncio.run(keys())
