"""wait-tigerastatus: wait until the tigera operator reports every component Available (``kubectl get
tigerastatus``), with progress lines and a timeout.

Components: ``params.components`` or, by default, those that apply: ``calico`` and ``ippools`` (Installation
``default``), ``apiserver`` (APIServer ``default``), ``goldmane`` / ``whisker`` (their CRs). A status counts only when
it is fresh: its Available condition's ``observedGeneration`` is the generation of the CR it reports on (or, when
the operator sets none, it was seen not Available during this wait) -- statuses left by AKS's operator are stale.
A component Degraded for longer than ``degraded_s`` (default 120) fails the step with the operator's reason and
message (e.g. the premature-CRD-cleanup ``ResourceNotFound``). Params ``timeout_s`` (900), ``poll_s`` (2).
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

GROUP = "operator.tigera.io/v1"
OWNERS = {"calico": "Installation", "ippools": "Installation", "apiserver": "APIServer", "goldmane": "Goldmane",
          "whisker": "Whisker"}
ORDER = ("apiserver", "calico", "goldmane", "ippools", "whisker")


def _cond(status: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for c in ((status or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}


def _owner_generations(rest: Any) -> dict[str, int | None]:
    """component -> generation of its CR (None: the CR does not exist)."""
    gens: dict[str, int | None] = {}
    for comp, kind in OWNERS.items():
        try:
            res = rest.resource(GROUP, kind)
        except Exception:  # the kind is not served (yet)
            gens[comp] = None
            continue
        cr = rest.get(res, None, "default")
        gens[comp] = None if cr is None else int((cr.get("metadata") or {}).get("generation") or 1)
    return gens


class TigeraStatusParams(StepParams):
    components: list[str] | None = Field(default=None, description="default: those that apply")
    timeout_s: float = seconds(900)
    poll_s: float = seconds(2)
    degraded_s: float = Field(default=120, ge=0, allow_inf_nan=False,
                              description="how long a component may stay Degraded")


@step("wait-tigerastatus", params=TigeraStatusParams, permissions=perm.rules(perm.kube("get,list", "*", perm.TIGERA)))
def wait_tigerastatus(ctx: StepContext, step: PlanStep, params: TigeraStatusParams) -> dict[str, Any]:
    from netmig.kube.resources import Rest

    rest = Rest(ctx.kube)
    timeout, poll = params.timeout_s, params.poll_s
    degraded_s = params.degraded_s
    t0 = ctx.clock()
    seen_down: set[str] = set()
    degraded_since: dict[str, float] = {}
    last = ""
    while True:
        checkpoint(f"{step.id}:waiting")
        gens = _owner_generations(rest)
        wanted = list(params.components or [c for c in ORDER if gens.get(c) is not None])
        if not wanted:
            raise CheckFailed("no Installation default: nothing for the operator to report on",
                              "the apply-manifests step creates it; rerun apply")
        res = rest.resource(GROUP, "TigeraStatus")
        states, ready = [], []
        now = ctx.clock()
        for comp in wanted:
            ts = rest.get(res, None, comp)
            avail, degr = _cond(ts, "Available"), _cond(ts, "Degraded")
            observed = avail.get("observedGeneration")
            fresh = (observed is not None and gens.get(comp) is not None and int(observed) == gens[comp]) or (
                observed is None and comp in seen_down)
            if ts is None or avail.get("status") != "True":
                seen_down.add(comp)
            if avail.get("status") == "True" and fresh:
                ready.append(comp)
                states.append(f"{comp} Available")
                degraded_since.pop(comp, None)
                continue
            if degr.get("status") == "True":
                since = degraded_since.setdefault(comp, now)
                states.append(f"{comp} Degraded ({degr.get('reason')})")
                if now - since > degraded_s:
                    raise CheckFailed(f"tigerastatus {comp} is Degraded: {degr.get('reason')}: "
                                      f"{degr.get('message')}"[:400],
                                      "fix the cause the operator names (kubectl get tigerastatus "
                                      f"{comp} -o yaml), then rerun apply")
                continue
            degraded_since.pop(comp, None)
            why = avail.get("message") or _cond(ts, "Progressing").get("message") or "no status yet"
            states.append(f"{comp} {'stale' if avail.get('status') == 'True' else 'not available'} ({why})")
        line = "tigerastatus: " + "; ".join(states)
        if line != last:
            ctx.progress.message(line)
            last = line
        if len(ready) == len(wanted):
            waited = round(ctx.clock() - t0, 1)
            ctx.journal.record("report-note", title="Self-managed Calico", lines=[
                f"- the tigera operator reports {', '.join(wanted)} Available (TigeraStatus, current generation) "
                f"after {waited} s of waiting."])
            return {"components": ", ".join(wanted), "waited_s": waited}
        if ctx.clock() - t0 > timeout:
            raise CheckFailed(f"the tigera operator did not report every component Available within {timeout:.0f} s "
                              f"({'; '.join(s for s in states if 'Available' not in s)})",
                              "check kubectl get tigerastatus and the operator's log, then rerun apply")
        if ctx.sleep(poll):
            raise CheckFailed("stopped", "rerun apply")
