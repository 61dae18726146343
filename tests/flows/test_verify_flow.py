"""The verification flow under the real Prefect engine, against the sandbox: the seed demo and a snapshot, with the
Markdown artifacts it publishes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from flows.verify import VerifyParams, verify


def test_verify_flow_runs_seed_demo_and_snapshot_with_artifacts(
        prefect_server: None, sandbox_factory: Any, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    sb = sandbox_factory("seed-demo")
    out = tmp_path / "snap.json"
    state = verify(VerifyParams(out=str(out), sandbox=str(sb.directory), seed_demo=True), return_state=True)
    assert state.is_completed(), state
    result = state.result()
    assert result["seed_demo"]["passed"] is True
    snap = json.loads(out.read_text())
    assert snap["cells"] is not None
    assert sb.info["token"] not in out.read_text()

    async def artifacts() -> list[Any]:
        async with get_client() as client:
            return list(await client.read_artifacts())

    snapshot_artifacts = [a for a in asyncio.run(artifacts()) if a.key == "verify-snapshot"]
    assert snapshot_artifacts, "the flow published no snapshot artifact"
    assert all(sb.info["token"] not in str(a.data) for a in snapshot_artifacts)
    probing = [a for a in asyncio.run(artifacts()) if a.key == "verify-probing"]
    assert probing and probing[0].type == "progress", "no progress artifact while probing"
    assert max(float(a.data) for a in probing) == 100.0
