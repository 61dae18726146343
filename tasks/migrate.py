"""Prefect tasks for migrations: one task per plan step, a thin wrapper over ``netmig.engine.runner.run_step``.

Results persist in ``RUN_DIR/prefect-results`` keyed by (migration id, step id), so a rerun of the flow finds
completed steps Cached; the engine's journal is the second record (and what the library runner uses). The
``StepContext`` (live gateways) is not a task parameter: tasks look it up by run id in this process.
Transient ARM / Kubernetes errors are retried (``retry_condition_fn``); failed checks and pauses are not.
"""

from __future__ import annotations

import contextlib
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from netmig.engine.context import ProgressSink, StepContext

CONTEXTS: dict[str, StepContext] = {}


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    from netmig.azure.errors import ArmError
    from netmig.kube.errors import KubeError

    try:
        state.result()
    except (ArmError, KubeError) as e:
        return bool(e.temporary)
    except Exception:
        return False
    return False


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=_transient, persist_result=True)
def run_step(context_key: str, step_id: str) -> dict[str, Any]:
    """Run one plan step (skipped by the engine when its journal records it done)."""
    from netmig.engine.runner import run_step as engine_run_step

    ctx = CONTEXTS[context_key]
    return engine_run_step(ctx, ctx.plan.step(step_id))


class PrefectProgress(ProgressSink):
    """Log lines plus a Prefect progress artifact (nodes done / total) and Markdown artifacts."""

    def __init__(self) -> None:
        super().__init__()
        self.artifact_id: Any = None

    def pools(self, pools: list[Any]) -> None:
        super().pools(pools)
        total = sum(p.total for p in pools) or 1
        pct = 100.0 * sum(p.done for p in pools) / total
        try:
            if self.artifact_id is None:
                self.artifact_id = create_progress_artifact(pct, key="reimage-progress",
                                                            description="nodes reimaged (all pools)")
            else:
                update_progress_artifact(self.artifact_id, pct)
        except Exception:  # outside a run context (tests calling the sink directly)
            pass

    def artifact(self, key: str, markdown: str) -> None:
        with contextlib.suppress(Exception):
            create_markdown_artifact(markdown, key=key)
