"""Flow-run bookkeeping on the Prefect server: tagging a migration's runs, marking the ones a killed process left
behind, the artifacts a run already published, where a run's new plan goes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags
from prefect.client.schemas.objects import StateType
from prefect.states import Crashed

STATE_DIR_ENV = "NETMIG_STATE_DIR"


def register_run(migration_id: str, current: Any) -> int:
    """Tag this run ``migration:ID``; mark runs of the same migration left RUNNING by a killed process Crashed, and
    runs a CLI apply left Paused (exit 3: approval, stall) Cancelled, superseded by this one (a deployment run
    Suspended at its approval form is left alone). Returns how many were marked Crashed."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    tag = f"migration:{migration_id}"
    n = 0
    with get_client(sync_client=True) as client:
        if current is not None and tag not in (current.tags or []):
            client.update_flow_run(current.id, tags=[*(current.tags or []), tag])
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[tag]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PAUSED]))))
        for r in runs:
            if current is not None and r.id == current.id:
                continue
            if r.state_type == StateType.RUNNING:
                client.set_flow_run_state(r.id, Crashed(message="the process running it was killed; resumed"),
                                          force=True)
                n += 1
            elif r.state_name == "Paused" and r.deployment_id is None:
                client.set_flow_run_state(r.id, Cancelled(message="paused run superseded: apply was run again"),
                                          force=True)
    return n


def published(flow_run_id: Any) -> set[str]:
    """Artifact keys this flow run already has (a resumed run does not publish them twice)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        return {a.key for a in arts if a.key}
    return set()


def default_plan_path(migration: str, flow_run: Any) -> Path:
    """Where a run that makes its plan writes it: ``$NETMIG_STATE_DIR/plans/KIND-RUNID.yaml`` (default .netmig)."""
    root = Path(os.environ.get(STATE_DIR_ENV) or ".netmig")
    run = flow_run.id.hex[:12] if flow_run is not None else "local"
    return (root / "plans" / f"{migration}-{run}.yaml").resolve()
