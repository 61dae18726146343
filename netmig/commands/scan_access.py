"""What ``fleet scan`` may see: the subscriptions it scans, each checked for the scan's role before anything is
listed (issue 18).

Contract: ``scan_subscriptions(target, subscriptions=(), deep=False) -> list[str]``: ``subscriptions`` when given,
else every Enabled one the credential lists (``netmig.azure.inventory.subscriptions_of``); then, at each of them,
the caller's effective permissions (``GET /subscriptions/{s}/providers/Microsoft.Authorization/permissions``) must
allow every Azure action of ``netmig.engine.permissions.for_fleet_scan(deep)`` (what ``aks-netmig permissions
--fleet-scan [--deep]`` prints). Resource Graph answers a query with the clusters the caller may read and no word
about the others, so a role short of ``managedClusters/read`` would make a scan that looks complete but lists fewer
clusters; this check makes it a ``UsageError`` instead (exit 2, one line: the missing action(s), the subscription,
and the line to add to the role). No subscription listed at all is the same error naming
``Microsoft.Resources/subscriptions/read``; a 403 on the permissions API itself names
``Microsoft.Authorization/permissions/read``. It only reads; nothing is written. Other ARM errors are raised as
``netmig.azure.errors`` (the caller translates them).
"""

from __future__ import annotations

from collections.abc import Iterable

from netmig.connection import ArmTarget
from netmig.errors import UsageError
from netmig.model.permissions import OWN_PERMISSIONS

SUBSCRIPTIONS_READ = "Microsoft.Resources/subscriptions/read"


def _fix(actions: list[str], scope: str, deep: bool) -> str:
    listed = ", ".join(f'"{a}"' for a in actions)
    flag = "--fleet-scan --deep" if deep else "--fleet-scan"
    return (f"add {listed} to the Azure role's Actions and assign it at {scope} (aks-netmig permissions {flag} "
            "prints the role); nothing was listed")


def scan_subscriptions(target: ArmTarget, subscriptions: Iterable[str] = (), deep: bool = False) -> list[str]:
    """See the module contract."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway
    from netmig.azure.inventory import subscriptions_of
    from netmig.azure.permissions import allowed, grants_at
    from netmig.engine.permissions import for_fleet_scan

    subs = list(subscriptions) or subscriptions_of(target)
    if not subs:
        raise UsageError(f"fleet scan found no subscription: the credential lists none (it lacks Azure action "
                         f"{SUBSCRIPTIONS_READ}, or has no role on any subscription)",
                         _fix([SUBSCRIPTIONS_READ], "/subscriptions/<subscription-id>", deep) + ", or pass "
                         "--subscription ID")
    need = for_fleet_scan(deep).arm
    own = OWN_PERMISSIONS.arm[0]
    aks = AksGateway(target)
    for sub in subs:
        scope = f"/subscriptions/{sub}"
        try:
            grants = grants_at(aks, scope)
        except arm.AuthFailed as e:
            if own.lower() not in str(e).lower():
                raise
            raise UsageError(f"fleet scan cannot check its access to {scope}: the credential lacks Azure action "
                             f"{own}", _fix([own], scope, deep)) from None
        missing = [a for a in need if not allowed(grants, a)]
        if missing:
            raise UsageError(f"fleet scan would not see every cluster of {scope}: the credential lacks Azure action"
                             f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} there (Resource Graph leaves "
                             "out what a caller may not read)", _fix(missing, scope, deep))
    return subs
