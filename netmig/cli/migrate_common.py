"""Shared pieces of the CLI commands: cluster-address options, number types, logging, the approval prompt and the
progress display (what the commands in ``netmig.commands`` are given)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from netmig.errors import Paused

F = TypeVar("F", bound=Callable[..., Any])


class FiniteNumber(click.ParamType):
    """A finite float (NaN and infinities refused) with a lower bound: ``> minimum`` (``open``) or ``>= minimum``;
    an optional upper bound ``<= maximum``."""

    name = "number"

    def __init__(self, minimum: float = 0.0, *, open_min: bool = True, maximum: float | None = None) -> None:
        self.minimum, self.open_min, self.maximum = minimum, open_min, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        import math

        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        low_ok = number > self.minimum if self.open_min else number >= self.minimum
        if not low_ok or (self.maximum is not None and number > self.maximum):
            bound = f"{'>' if self.open_min else '>='} {self.minimum:g}" + (
                f" and <= {self.maximum:g}" if self.maximum is not None else "")
            self.fail(f"{value!r} is out of range (it must be {bound})", param, ctx)
        return number


SECONDS = FiniteNumber(0.0, open_min=True)  # a timeout: finite, > 0
SCALE = FiniteNumber(0.0, open_min=False, maximum=60.0)  # the sandbox's time scale: finite, >= 0


def cluster_options(f: F) -> F:
    opts = [
        click.option("--sandbox", type=click.Path(file_okay=False, path_type=Path),
                     help="A sandbox folder: endpoint, CA bundle, token and cluster from DIR/sandbox.json."),
        click.option("--cluster", help="AKS resource id /subscriptions/.../managedClusters/NAME."),
        click.option("--subscription"), click.option("--resource-group"), click.option("--name"),
        click.option("--arm-endpoint", help="ARM endpoint (default: public Azure)."),
        click.option("--ca-bundle", help="PEM bundle to trust for the ARM endpoint."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def configure_logging() -> None:
    from netmig.logs import configure

    configure()


def approver(yes: bool) -> Callable[[Any], Any]:
    def ask(plan: Any) -> Any:
        user = getpass.getuser()
        if yes:
            return {"approved": True, "approver": user, "via": "--yes"}
        if sys.stdin.isatty() and sys.stdout.isatty():
            import questionary

            from netmig.checks.unenforced import unenforced_banner

            click.echo(f"\nAbout to change {plan.cluster}:\n  {plan.source_profile().describe()} -> "
                       f"{plan.target_profile().describe()}; {plan.nodes_to_reimage} nodes reimaged"
                       + (f"\n  IRREVERSIBLE: {plan.irreversible_reason}" if plan.irreversible else "")
                       + "".join(f"\n  {b}" for b in [unenforced_banner(plan)] if b))
            # unsafe_ask: Ctrl-C at the prompt is an interrupt (exit 130, nothing recorded as a "no"), not a rejection
            ok = questionary.confirm("Approve this migration?", default=False).unsafe_ask()
            return {"approved": bool(ok), "approver": user, "via": "prompt"}
        raise Paused("paused awaiting approval (no terminal to ask on)",
                     "review the plan, then rerun apply with --yes")
    return ask


def progress_sink() -> Any:
    """Rich per-pool bars on a terminal (stderr), the plain progress log lines otherwise."""
    from netmig.cli.progress import sink_for

    return sink_for()


def prepare_prefect_env() -> None:
    """Before prefect is imported: no analytics, and a PREFECT_HOME that exists (Prefect does not create parents)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    home = os.environ.get("PREFECT_HOME")
    if home:
        Path(home).expanduser().mkdir(parents=True, exist_ok=True)


def parse_budget(budget: str, no_budget: bool) -> float | None:
    """``--budget DURATION`` in seconds, None with ``--no-budget``; one-line UsageError when unreadable."""
    from netmig.errors import UsageError
    from netmig.verify.budget import parse_duration

    if no_budget:
        return None
    try:
        return parse_duration(budget)
    except ValueError as e:
        raise UsageError(f"--budget: {e}", "pass a duration like 10m, 90s or 1h, or --no-budget") from None


def budget_flag(budget: str | None, no_budget: bool) -> str | None:
    """``--budget DURATION`` / ``--no-budget`` of a planning command as given: the text, ``"none"``, or None when
    neither; one-line UsageError when both, or when the duration is unreadable (before anything is read)."""
    from netmig.errors import UsageError

    if budget is not None and no_budget:
        raise UsageError("--budget and --no-budget contradict each other", "give one of them")
    if no_budget:
        return "none"
    if budget is not None:
        parse_budget(budget, False)
    return budget
