"""``policies-unenforced``: a migration to network policy none (uninstall) turns off enforcement of every
NetworkPolicy. With N > 0 policies this is a FAIL about the cluster's own content that must be accepted explicitly
(``--accept policies-unenforced``, ``accepted:``, the wizard, the Prefect form): "turns off enforcement of N
NetworkPolicies in M namespaces". ``unenforced_banner(plan)`` is that sentence for the plan, the approval gate and
the report (None when the plan leaves enforcement on or no policy exists).
"""

from __future__ import annotations

from typing import Any

from netmig.model import permissions as perm
from netmig.model.checks import CheckResult, Outcome
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check

CHECK = "policies-unenforced"


def verdict(policies: list[dict[str, Any]], source_engine: str, target_engine: str) -> CheckResult:
    if target_engine != "none" or source_engine == "none":
        return CheckResult(CHECK, Outcome.PASS, f"NetworkPolicies stay enforced ({source_engine} -> {target_engine})")
    names = sorted(f"{(p.get('metadata') or {}).get('namespace')}/{(p.get('metadata') or {}).get('name')}"
                   for p in policies)
    spaces = sorted({n.split("/", 1)[0] for n in names})
    if not names:
        return CheckResult(CHECK, Outcome.PASS, "no NetworkPolicy exists: nothing becomes unenforced")
    return CheckResult(CHECK, Outcome.FAIL,
                       f"turns off enforcement of {len(names)} NetworkPolicies in {len(spaces)} namespaces "
                       f"({', '.join(names[:4])}{' ...' if len(names) > 4 else ''}): they stay in the cluster but "
                       "nothing enforces them any more",
                       f"review them; to go ahead, accept it explicitly (plan --accept {CHECK})")


@check(CHECK, permissions=perm.rules(perm.kube("list", "networkpolicies", perm.NET)))
def policies_unenforced(ctx: StepContext) -> CheckResult:
    source, target = ctx.plan.source_profile().engine, ctx.plan.target_profile().engine
    pols = ctx.kube.network_policies() if target == "none" and source != "none" else []
    return verdict(pols, source, target)


def unenforced_banner(plan: Any) -> str | None:
    """"UNENFORCED (one-way for enforcement): turns off enforcement of N NetworkPolicies in M namespaces ..." """
    rows = (CheckResult.of(r) for r in plan.preflight)
    row = next((r for r in rows if r.check == CHECK and r.outcome is Outcome.FAIL), None)
    if row is None:
        return None
    return "UNENFORCED: " + row.reason.split(" (", 1)[0] + "; restoring enforcement means installing a " \
        "policy engine again (a new migration)"
