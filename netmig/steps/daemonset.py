"""wait-daemonset: a DaemonSet (e.g. kube-system/cilium) scheduled and Ready on every node.

Params: ``namespace``, ``name``, ``timeout_s`` (default 900), ``poll_s`` (default 2).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, seconds, step
from netmig.stepkit.testhooks import checkpoint


def ds_state(ctx: StepContext, ns: str, name: str) -> tuple[bool, str]:
    from netmig.kube import errors

    try:
        ds = ctx.kube.apps.read_namespaced_daemon_set(name, ns)
    except Exception as e:  # the client's ApiException: not created yet
        if getattr(e, "status", None) == 404 or isinstance(e, errors.NotFound):
            return False, "not created yet"
        raise
    st: Any = ds.status
    if st is None:
        return False, "no status yet"
    nodes = len(ctx.kube.nodes())
    desired, ready = int(st.desired_number_scheduled or 0), int(st.number_ready or 0)
    updated = int(st.updated_number_scheduled or desired)
    ok = desired > 0 and desired == ready == updated and desired >= nodes
    return ok, f"{ready}/{desired} ready on {nodes} nodes"


class DaemonSetParams(StepParams):
    name: str = Field(description="the DaemonSet, e.g. cilium")
    namespace: str = "kube-system"
    timeout_s: float = seconds(900)
    poll_s: float = seconds(1)


@step("wait-daemonset", params=DaemonSetParams,
      permissions=perm.rules(perm.kube("get,list", "daemonsets", "apps"), perm.kube("list", "nodes,pods")))
def wait_daemonset(ctx: StepContext, step: PlanStep, params: DaemonSetParams) -> dict[str, Any]:
    ns, name = params.namespace, params.name
    timeout, poll = params.timeout_s, params.poll_s
    t0 = ctx.clock()
    while True:
        checkpoint(f"{step.id}:waiting")
        ok, detail = ds_state(ctx, ns, name)
        if ok:
            return {"daemonset": f"{ns}/{name}", "state": detail, "waited_s": round(ctx.clock() - t0, 1)}
        if ctx.clock() - t0 > timeout:
            raise CheckFailed(f"DaemonSet {ns}/{name} not ready after {timeout:.0f} s ({detail})",
                              f"check: kubectl -n {ns} describe ds {name}; then rerun apply")
        if ctx.sleep(poll):
            raise CheckFailed("stopped", "rerun apply")
