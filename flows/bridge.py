"""The Prefect side of the structlog bridge (``netmig.logs.bridged``): while a flow runs, aks-netmig's log lines also
go to the flow run's logs (through Prefect's API handler; lines logged outside a flow / task run context stay on the
console only)."""

from __future__ import annotations

from typing import Any


def in_run() -> bool:
    """Inside a Prefect flow run or task run (this thread)."""
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def structlog_to_prefect() -> Any:
    """A context manager: the bridge, with Prefect's ``APILogHandler``."""
    from prefect.logging.handlers import APILogHandler

    from netmig import logs

    return logs.bridged(APILogHandler(), in_run)
