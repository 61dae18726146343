"""Wizard phase 5: when it runs (now, in a Prefect-scheduled maintenance window, later by hand) and approval; and
scheduling it in Prefect."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from netmig.cli.wizard.answers import Answers
from netmig.cli.wizard_prompts import Option, Questions
from netmig.errors import UsageError

DEFAULT_TZ = "Europe/Amsterdam"  # prefect.yaml's maintenance-window schedules' time zone


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a UsageError naming --tz when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r}", "pass --tz with an IANA name, e.g. Europe/Amsterdam") from None


def next_window(now: dt.datetime | None = None, tz: str = DEFAULT_TZ) -> dt.datetime:
    """The next Saturday 02:00 in ``tz`` (prefect.yaml's example maintenance window, Europe/Amsterdam)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(zone(tz)).replace(second=0, microsecond=0)
    days = (5 - now.weekday()) % 7 or 7
    local = (now + dt.timedelta(days=days)).replace(hour=2, minute=0, tzinfo=None)
    return local.replace(tzinfo=zone(tz))


def parse_when(text: str, now: dt.datetime | None = None, tz: str = DEFAULT_TZ) -> dt.datetime:
    """ISO 8601 ('2026-12-05T02:00+01:00'; without an offset: in ``tz``), in the future."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a time", "write ISO 8601, e.g. 2026-12-05T02:00+01:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone(tz))
    if when <= (now or dt.datetime.now(dt.UTC)):
        raise UsageError(f"{text!r} is in the past", "give a time in the future")
    return when


def when_and_approval(q: Questions, a: Answers, tz: str = DEFAULT_TZ) -> None:
    """Phase 5: ``a.then``, ``a.start_at`` (scheduled runs; a time without offset is in ``tz``) and
    ``a.approve``."""
    if a.then is None:
        a.then = q.select("When should it run?", [
            Option("now, from this terminal (aks-netmig apply)", "run"),
            Option("in a maintenance window: schedule it in Prefect", "schedule"),
            Option("later: print the runbook commands", "print")], flag="--then run|schedule|print", default="print")
    if a.then == "schedule" and a.start_at is None:
        def when_problem(s: str) -> str | None:
            try:
                parse_when(s, tz=tz)
            except UsageError as e:
                return e.problem
            return None
        a.start_at = parse_when(q.text(f"Maintenance window start (ISO 8601; {tz} unless an offset is given)",
                                       flag="--start-at TIME",
                                       default=next_window(tz=tz).isoformat(timespec="minutes"),
                                       validate=when_problem), tz=tz)
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
