"""The ``permissions`` check: the caller holds every Azure action and Kubernetes permission the plan declares
(its step kinds, its checks, ``ALWAYS_ON``: ``netmig.stepkit.registry.needed``), asked of Azure
(``Microsoft.Authorization/permissions`` on the cluster, and on the VNet / node resource group for the
Microsoft.Network actions) and of Kubernetes (one SelfSubjectAccessReview per verb and resource). It only reads.

Contract: everything granted -> PASS. Something missing -> ERROR (the run could not go safely: never acceptable),
the reason naming each missing Azure action (with its scope) and Kubernetes permission, the fix the role lines to
add. While planning (no run: ``ctx.run_id`` empty) only what plan / preflight need must be granted; what only a run
needs, when missing, is a WARN naming it (a read-only identity may plan; apply's preflight blocks).
"""

from __future__ import annotations

from netmig.azure import errors as azerrors
from netmig.azure import permissions as azperm
from netmig.kube.access import can_i
from netmig.model.checks import CheckResult, Outcome
from netmig.model.permissions import OWN_PERMISSIONS, KubeRule, Permissions
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check, needed

CHECK = "permissions"


def missing(ctx: StepContext, need: Permissions) -> tuple[list[str], list[KubeRule]]:
    """The Azure actions (``"action on scope"``) and the single Kubernetes rules ``need`` lists that the caller
    lacks. Azure is asked first; when an Azure action is missing and Kubernetes cannot be asked (no kubeconfig
    without ``listClusterUserCredential``), the Azure answer alone is returned."""
    out_arm = missing_arm(ctx, need)
    try:
        out_kube = [r for rule in need.kube for r in rule.singles()
                    if not can_i(ctx.kube, r.verbs[0], r.api_group, r.resources[0], r.namespace)]
    except Exception:
        if out_arm:
            return out_arm, []
        raise
    return out_arm, out_kube


def missing_arm(ctx: StepContext, need: Permissions) -> list[str]:
    """The Azure actions of ``need`` the caller lacks, as ``"action on scope"``."""
    out_arm: list[str] = []
    cluster_scope = ctx.aks.ref.resource_id
    network = [a for a in need.arm if a.lower().startswith("microsoft.network/")]
    grants = azperm.grants_at(ctx.aks, cluster_scope)
    out_arm += [f"{a} on {cluster_scope}" for a in need.arm if a not in network and not azperm.allowed(grants, a)]
    if network:
        for scope in azperm.network_scopes(ctx.aks):
            g = azperm.grants_at(ctx.aks, scope)
            out_arm += [f"{a} on {scope}" for a in network if not azperm.allowed(g, a)]
    return out_arm


def _rule_line(r: KubeRule) -> str:
    role = f"Role in {r.namespace}" if r.namespace else "ClusterRole"
    return (f"{role}: {{apiGroups: [\"{r.api_group}\"], resources: [{r.resources[0]}], verbs: [{r.verbs[0]}]}}")


@check(CHECK, permissions=OWN_PERMISSIONS)
def permissions(ctx: StepContext) -> CheckResult:
    """The caller holds every Azure action and Kubernetes permission the plan needs."""
    steps = [s.kind for s in ctx.plan.steps]
    full = needed(steps, ctx.plan.checks)
    planning = not ctx.run_id
    try:
        arm, kube = missing(ctx, full)
    except azerrors.AuthFailed as e:
        own = OWN_PERMISSIONS.arm[0]
        if own.lower() not in str(e).lower():
            raise
        return CheckResult(CHECK, Outcome.ERROR, f"cannot read the caller's own Azure permissions: missing Azure "
                                                 f"action {own}",
                           f'add "{own}" to the Azure role\'s Actions (aks-netmig permissions --migration '
                           f"{ctx.plan.kind} prints the role)")
    if not arm and not kube:
        return CheckResult(CHECK, Outcome.PASS, f"{len(full.arm)} Azure actions and {len(full.kube)} Kubernetes "
                                                f"rules granted")
    reads = needed([], ctx.plan.checks, read_only=True)
    blocking_arm = [a for a in arm if not planning or reads.covers_arm(a.split(" on ")[0])]
    blocking_kube = [r for r in kube
                     if not planning or reads.covers_kube(r.verbs[0], r.api_group, r.resources[0], r.namespace)]
    what = [f"Azure action {a}" for a in arm] + [f"Kubernetes {r.line()}" for r in kube]
    fix = ("add " + "; ".join([f'"{a.split(" on ")[0]}" to the Azure role\'s Actions' for a in arm]
                              + [_rule_line(r) for r in kube])
           + f" (aks-netmig permissions --migration {ctx.plan.kind} prints both roles)")
    if blocking_arm or blocking_kube:
        return CheckResult(CHECK, Outcome.ERROR, f"missing permissions: {'; '.join(what)}"[:1500],
                           fix[:1500])
    return CheckResult(CHECK, Outcome.WARN, f"the run will need permissions this identity lacks: {'; '.join(what)}"
                       [:1500], fix[:1500])
