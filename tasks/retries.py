"""The retry condition every Prefect task shares: retry transient ARM / Kubernetes API errors only (throttling,
5xx, dropped connections: ``netmig.commands.errors.is_transient``); failed checks, pauses and bugs are not retried."""

from __future__ import annotations

from typing import Any

from netmig.commands.errors import is_transient


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: True when the task run failed with a transient gateway error."""
    try:
        state.result()
    except Exception as e:
        return is_transient(e)
    return False
