"""Shared pieces of plan / apply / status: cluster-address options, logging, approval and progress callbacks."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from netmig.connection import ArmTarget, for_plan, resolve
from netmig.errors import CheckFailed, Paused, UsageError

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
ADDRESS_KEYS = ("sandbox", "cluster", "subscription", "resource_group", "name", "arm_endpoint", "ca_bundle")


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


def target_from(kwargs: dict[str, Any], plan: Any | None = None) -> ArmTarget:
    """The cluster the address flags in ``kwargs`` name (popped from it); without one, ``plan``'s own connection
    (``netmig.connection.for_plan``: its sandbox folder, or its cluster, ARM endpoint and CA bundle)."""
    addr = {k: kwargs.pop(k, None) for k in ADDRESS_KEYS}
    if plan is not None:
        return for_plan(plan, **addr)
    return resolve(**addr)


def check_credentials(target: ArmTarget) -> None:
    """A cheap ARM call with the target's credential (a token, then GET the cluster) before anything starts (a
    Prefect server, a run folder): ``UsageError`` naming what was tried and the fix when no credential works or
    the endpoint does not answer; ``CheckFailed`` when ARM answers otherwise (no such cluster, no permission)."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway

    try:
        AksGateway(target, polling_interval=polling_for(target)).check_access()
    except arm.NoCredential as e:
        raise UsageError(str(e), "sign in (az login), set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or "
                                 "pass --sandbox DIR for a sandbox cluster; nothing was changed") from None
    except arm.Temporary as e:
        if e.status is not None:  # ARM answered (5xx / 429) after the retries: a fault, not a wrong address
            raise CheckFailed(f"ARM answers {target.describe()} with errors: {e}",
                              "retry later (aks-netmig status shows the cluster); nothing was changed") from None
        raise UsageError(f"cannot reach {target.describe()}: {e}",
                         "check --arm-endpoint / --ca-bundle (or the plan's) and the network, then rerun; "
                         "nothing was changed") from None
    except arm.NotFound as e:
        raise UsageError(f"no cluster {target.ref.resource_id} at {target.endpoint} ({e})",
                         "check the address (--cluster / --sandbox, or the plan's); nothing was changed") from None
    except arm.AuthFailed as e:
        raise UsageError(f"{target.describe()} refused the credential: {e}",
                         "use an identity with Reader (plan) or Contributor (apply) on the cluster; "
                         "nothing was changed") from None
    except arm.ArmError as e:
        raise CheckFailed(f"cannot read {target.describe()}: {e}",
                          "check the address and the credential's permissions (Reader or more on the cluster); "
                          "nothing was changed") from None


def polling_for(target: ArmTarget) -> float:
    return 0.2 if target.static_token else 5.0


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
    from netmig.engine.context import ProgressSink

    if sys.stderr.isatty():
        from netmig.cli.progress import RichProgress

        return RichProgress()
    return ProgressSink()


def prepare_prefect_env() -> None:
    """Before prefect is imported: no analytics, and a PREFECT_HOME that exists (Prefect does not create parents)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    home = os.environ.get("PREFECT_HOME")
    if home:
        Path(home).expanduser().mkdir(parents=True, exist_ok=True)
