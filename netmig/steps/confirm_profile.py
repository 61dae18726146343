"""confirm-network-profile: the cluster really is where the plan says it is now, before anything depends on it
(Tigera: "verify azure,none"; the uninstall: "only after confirming none + Succeeded + no engine pods").

Params: ``plugin`` / ``policy`` (the ARM values expected, e.g. azure / none), ``no_engine_pods`` (default true:
no calico-node, typha, kube-controllers, tigera-operator or azure-npm pod may run; they are waited for, since AKS
removes them at the end of the reimage), ``timeout_s`` (600), ``poll_s`` (1). Checks: ARM network profile,
provisioningState Succeeded for the cluster and every pool, every node's network-policy label. Read-only.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, seconds, step

POLICY_LABEL = "kubernetes.azure.com/network-policy"


class ConfirmProfileParams(StepParams):
    plugin: str | None = Field(default=None, description="the network plugin ARM must report")
    policy: str | None = Field(default=None, description="the network policy ARM and the node labels must show")
    no_engine_pods: bool = Field(default=True, description="wait until no policy-engine pod runs")
    timeout_s: float = seconds(600)
    poll_s: float = seconds(1)


def _problems(ctx: StepContext, params: ConfirmProfileParams) -> tuple[list[str], list[str]]:
    """(problems that waiting cannot fix, engine pods still running)."""
    from netmig.kube.calico import engine_pods

    info = ctx.cluster(fresh=True)
    net = info.network
    out = []
    for field in ("plugin", "policy"):
        want = getattr(params, field)
        if want is not None and getattr(net, field) != want:
            out.append(f"network {field} is {getattr(net, field)}, expected {want}")
    if info.provisioning_state != "Succeeded":
        out.append(f"the cluster is {info.provisioning_state}")
    out += [f"pool {p.name} is {p.provisioning_state}" for p in info.pools if p.provisioning_state != "Succeeded"]
    want_label = params.policy
    if want_label is not None:
        wrong = [n["metadata"]["name"] for n in ctx.kube.nodes()
                 if (n["metadata"].get("labels") or {}).get(POLICY_LABEL, "none") != want_label]
        if wrong:
            out.append(f"nodes not labelled {POLICY_LABEL}={want_label}: {', '.join(wrong[:5])}")
    pods = engine_pods(ctx.kube) if params.no_engine_pods else []
    return out, pods


@step("confirm-network-profile", params=ConfirmProfileParams, permissions=perm.rules(perm.kube("list", "nodes,pods")))
def confirm_network_profile(ctx: StepContext, step: PlanStep, params: ConfirmProfileParams) -> dict[str, Any]:
    timeout, poll = params.timeout_s, params.poll_s
    t0 = ctx.clock()
    while True:
        problems, pods = _problems(ctx, params)
        if problems:
            raise CheckFailed("the cluster is not where the plan expects it: " + "; ".join(problems),
                              "check the cluster (aks-netmig status PLAN), then rerun apply")
        if not pods:
            net = ctx.cluster().network
            return {"network": f"{net.plugin},{net.policy}", "engine_pods": 0,
                    "waited_s": round(ctx.clock() - t0, 1)}
        if ctx.clock() - t0 > timeout:
            raise CheckFailed(f"policy-engine pods still run after {timeout:.0f} s: {', '.join(pods[:5])}",
                              "they must be gone before Calico's objects are touched; check them, then rerun apply")
        if ctx.sleep(poll):
            raise CheckFailed("stopped", "rerun apply")
