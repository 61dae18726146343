"""Wizard phase 5: when it runs (now, in a Prefect-scheduled maintenance window, later by hand) and approval; and
scheduling it in Prefect."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from netmig.cli.wizard.answers import Answers
from netmig.cli.wizard_prompts import Option, Questions
from netmig.errors import UsageError


def next_window(now: dt.datetime | None = None) -> dt.datetime:
    """The next Saturday 02:00 local time (prefect.yaml's example maintenance window)."""
    now = (now or dt.datetime.now().astimezone()).replace(second=0, microsecond=0)
    days = (5 - now.weekday()) % 7 or 7
    return (now + dt.timedelta(days=days)).replace(hour=2, minute=0)


def parse_when(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """ISO 8601 ('2026-12-05T02:00+01:00'; without an offset: this machine's time zone), in the future."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a time", "write ISO 8601, e.g. 2026-12-05T02:00+01:00") from None
    if when.tzinfo is None:
        when = when.astimezone()
    if when <= (now or dt.datetime.now(dt.UTC)):
        raise UsageError(f"{text!r} is in the past", "give a time in the future")
    return when


def when_and_approval(q: Questions, a: Answers) -> None:
    """Phase 5: ``a.then``, ``a.start_at`` (scheduled runs) and ``a.approve``."""
    if a.then is None:
        a.then = q.select("When should it run?", [
            Option("now, from this terminal (aks-netmig apply)", "run"),
            Option("in a maintenance window: schedule it in Prefect", "schedule"),
            Option("later: print the runbook commands", "print")], flag="--then run|schedule|print", default="print")
    if a.then == "schedule" and a.start_at is None:
        def when_problem(s: str) -> str | None:
            try:
                parse_when(s)
            except UsageError as e:
                return e.problem
            return None
        a.start_at = parse_when(q.text("Maintenance window start (ISO 8601, local time unless an offset is given)",
                                       flag="--start-at TIME", default=next_window().isoformat(timespec="minutes"),
                                       validate=when_problem))
    if a.approve is None:
        gate = {"run": "apply asks at the approval gate on this terminal",
                "schedule": "the run waits at the approval gate for a form in the Prefect UI",
                "print": "apply without --yes pauses at the approval gate (exit 3)"}[a.then]
        a.approve = q.confirm(f"Approve the migration now? (no: {gate})", flag="--yes / --approve-at-gate",
                              default=False)


def schedule(a: Answers, echo: Any) -> None:
    from netmig.cli import wizard_prefect as wp

    assert a.out is not None and a.start_at is not None
    flow_name, deployment = wp.find_deployment(str(a.kind))
    params = wp.run_parameters(str(a.kind), a.address, a.out, bool(a.approve))
    cmd = wp.prefect_command(flow_name, deployment, a.start_at, params)
    if os.environ.get("PREFECT_API_URL"):
        run = wp.schedule(flow_name, deployment, a.start_at, params)
        echo(f"Scheduled flow run {run['name']} ({run['id']}) of {run['deployment']} at {run['scheduled_time']}"
             + ("" if a.approve else "; it waits for approval in the Prefect UI") + ".")
        echo(f"  (the same by hand: {cmd})")
    else:
        echo("PREFECT_API_URL is not set: schedule it with")
        echo(f"  {cmd}")
        echo(f"Prefect shows it as deployment {flow_name}/{deployment}"
             + ("" if a.approve else "; the run waits for approval in the Prefect UI") + ".")
