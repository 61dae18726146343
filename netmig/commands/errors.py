"""The one place gateway errors become user-facing errors (a fault that ends a run: ``netmig.commands.failures``,
which adds the cluster's state and the next command).

Contract: ``translated(problem, fix)`` turns an ``ArmError`` / ``KubeError`` raised inside it into
``CheckFailed(f"{problem}: {error}", fix)`` (raised ``from`` it; other exceptions pass through). ``cannot_read(target)``
is the common case (reading a cluster through ARM). ``access_error(e, target)`` is the verdict on a failed credential
check (``check_access``): a ``UsageError`` (exit 2) for no credential, an unreachable endpoint, an unknown cluster or a
refused credential, else ``CheckFailed``; every fix ends with "nothing was changed". ``is_gateway_error`` tells whether
an exception is such an error (for callers that degrade instead of failing), ``is_transient`` whether it is worth
retrying.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from netmig.errors import CheckFailed, NetmigError, UsageError

READ_FIX = "check the address and the credentials"


def is_gateway_error(e: BaseException) -> bool:
    from netmig.azure.errors import ArmError
    from netmig.kube.errors import KubeError

    return isinstance(e, (ArmError, KubeError))


def is_transient(e: BaseException) -> bool:
    """An ARM / Kubernetes API error worth retrying (throttled, a 5xx, a dropped connection): the one retry test."""
    return is_gateway_error(e) and bool(getattr(e, "temporary", False))


@contextmanager
def translated(problem: str, fix: str = READ_FIX) -> Iterator[None]:
    """An ARM / Kubernetes API error inside the block becomes ``CheckFailed("PROBLEM: ERROR", fix)``."""
    try:
        yield
    except Exception as e:
        if is_gateway_error(e):
            raise CheckFailed(f"{problem}: {e}", fix) from e
        raise


def cannot_read(target: Any, fix: str = READ_FIX) -> Any:
    """``translated("cannot read CLUSTER", fix)``: reading ``target`` (an ``ArmTarget``) through ARM."""
    return translated(f"cannot read {target.describe()}", fix)


def access_error(e: Exception, target: Any) -> NetmigError:
    """The error for a failed credential check against ``target`` (see the module contract)."""
    from netmig.azure import errors as arm

    if isinstance(e, arm.NoCredential):
        return UsageError(str(e), "sign in (az login), set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or "
                                  "pass --sandbox DIR for a sandbox cluster; nothing was changed")
    if isinstance(e, arm.Temporary):
        if e.status is not None:  # ARM answered (5xx / 429) after the retries: a fault, not a wrong address
            return CheckFailed(f"ARM answers {target.describe()} with errors: {e}",
                               "retry later (aks-netmig status shows the cluster); nothing was changed")
        return UsageError(f"cannot reach {target.describe()}: {e}",
                          "check --arm-endpoint / --ca-bundle (or the plan's) and the network, then rerun; "
                          "nothing was changed")
    if isinstance(e, arm.NotFound):
        return UsageError(f"no cluster {target.ref.resource_id} at {target.endpoint} ({e})",
                          "check the address (--cluster / --sandbox, or the plan's); nothing was changed")
    if isinstance(e, arm.AuthFailed):
        return UsageError(f"{target.describe()} refused the credential: {e}",
                          "use an identity with Reader (plan) or Contributor (apply) on the cluster; "
                          "nothing was changed")
    return CheckFailed(f"cannot read {target.describe()}: {e}",
                       "check the address and the credential's permissions (Reader or more on the cluster); "
                       "nothing was changed")


def check_access(target: Any) -> None:
    """A cheap ARM call with the target's credential (a token, then GET the cluster) before anything starts (a
    Prefect server, a run folder): ``access_error`` when it fails."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway

    try:
        AksGateway(target).check_access()
    except arm.ArmError as e:
        raise access_error(e, target) from None
