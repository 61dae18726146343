"""Kubernetes-side checks of the Calico migrations:

- ``calico-addon-annotations``: the tigera-operator Deployment and the calico-node DaemonSet must not carry
  ``addonmanager.kubernetes.io/mode`` (annotation or label): AKS keeps reconciling such objects (Azure/AKS#3315)
  and would fight a self-managed operator;
- ``tigera-operator-manifest``: the install-operator step's manifest can be read (else ERROR: could not run), parses,
  holds the tigera-operator Deployment (and matches ``manifest_sha256`` when the plan pins it); never acceptable;
- ``policy-engine-stopped``: no calico-node / typha / kube-controllers / tigera-operator / azure-npm pod runs (the
  CRD cleanup would pull the ground from under them);
- ``calico-leftovers``: what the cleanup would back up and delete (a warning when there is nothing).
"""

from __future__ import annotations

from typing import Any

from netmig.model import permissions as perm
from netmig.model.checks import CheckResult, Outcome
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check

ADDON_KEY = "addonmanager.kubernetes.io/mode"
ADDON_OBJECTS = (("apps/v1", "Deployment", "tigera-operator", "tigera-operator"),
                 ("apps/v1", "DaemonSet", "calico-system", "calico-node"),
                 ("apps/v1", "DaemonSet", "kube-system", "calico-node"))


def addon_verdict(objects: list[dict[str, Any]]) -> CheckResult:
    """``objects``: the tigera-operator Deployment / calico-node DaemonSets that exist."""
    cid = "calico-addon-annotations"
    flagged = []
    for o in objects:
        meta = o.get("metadata") or {}
        for where in ("annotations", "labels"):
            value = (meta.get(where) or {}).get(ADDON_KEY)
            if value is not None:
                flagged.append(f"{o.get('kind')} {meta.get('namespace')}/{meta.get('name')} ({where[:-1]} "
                               f"{ADDON_KEY}={value})")
    if flagged:
        return CheckResult(cid, Outcome.FAIL, "AKS reconciles Calico here: " + "; ".join(flagged),
                           "this cluster's Calico is still reconciled by AKS's addon manager (Azure/AKS#3315); "
                           "open an AKS support case to release it before migrating to self-managed Calico")
    names = ", ".join(f"{o.get('kind')} {o['metadata'].get('namespace')}/{o['metadata'].get('name')}"
                      for o in objects) or "no tigera-operator / calico-node objects"
    return CheckResult(cid, Outcome.PASS, f"no {ADDON_KEY} annotation or label ({names})")


@check("calico-addon-annotations", permissions=perm.rules(perm.kube("get", "daemonsets,deployments", "apps")))
def calico_addon_annotations(ctx: StepContext) -> CheckResult:
    from netmig.kube.resources import Rest

    rest = Rest(ctx.kube)
    found = []
    for api, kind, ns, name in ADDON_OBJECTS:
        obj = rest.get(rest.resource(api, kind), ns, name)
        if obj is not None:
            found.append(obj)
    return addon_verdict(found)


def _install_step(ctx: StepContext) -> Any:
    return next((s for s in ctx.plan.steps if s.kind == "install-operator"), None)


@check("tigera-operator-manifest")
def tigera_operator_manifest(ctx: StepContext) -> CheckResult:
    """Reading the manifest failing (download, file) is an ERROR: the check could not run, never acceptable.
    A manifest that is readable but not the one to install (sha256 pin, no operator Deployment, not YAML) is a
    FAIL that cannot be accepted either: it is about the manifest, not the cluster's content."""
    from netmig.errors import NetmigError
    from netmig.manifests import content_problem, parse_manifest, read_source
    from netmig.stepkit.registry import params_of

    cid = "tigera-operator-manifest"
    step = _install_step(ctx)
    if step is None:
        return CheckResult(cid, Outcome.PASS, "the plan installs no operator")
    try:
        params = params_of(step)
    except NetmigError as e:
        return CheckResult(cid, Outcome.ERROR, e.problem, e.fix)
    source = str(getattr(params, "manifest", "") or "")
    if not source:
        return CheckResult(cid, Outcome.ERROR, "no tigera-operator manifest is set",
                           f"set it: aks-netmig plan ... --set {step.id}.manifest=FILE_OR_URL")
    try:
        data = read_source(source)
    except NetmigError as e:
        return CheckResult(cid, Outcome.ERROR, f"the tigera-operator manifest could not be read: {e.problem}",
                           f"make it readable from here, or plan again with --set {step.id}.manifest=FILE (a "
                           "reviewed local copy); a manifest that cannot be read cannot be accepted")
    try:
        docs, sha, _ = parse_manifest(source, data)
    except NetmigError as e:
        return CheckResult(cid, Outcome.FAIL, f"the tigera-operator manifest cannot be used: {e.problem}",
                           f"plan again with --set {step.id}.manifest=FILE (Tigera's tigera-operator.yaml)",
                           acceptable=False)
    problem = content_problem(source, docs, sha, getattr(params, "manifest_sha256", None))
    if problem is not None:
        return CheckResult(cid, Outcome.FAIL, problem[0], problem[1], acceptable=False)
    return CheckResult(cid, Outcome.PASS, f"{source}: {len(docs)} objects, sha256 {sha[:16]}...")


@check("policy-engine-stopped", permissions=perm.rules(perm.kube("list", "pods")))
def policy_engine_stopped(ctx: StepContext) -> CheckResult:
    from netmig.kube.calico import engine_pods

    pods = engine_pods(ctx.kube)
    if not pods:
        return CheckResult("policy-engine-stopped", Outcome.PASS,
                           "no calico-node, typha, kube-controllers, tigera-operator or azure-npm pod runs")
    return CheckResult("policy-engine-stopped", Outcome.FAIL,
                       f"policy-engine pods still run: {', '.join(pods[:5])}" + (" ..." if len(pods) > 5 else ""),
                       "a network-policy engine still uses these objects; uninstall it first (migration kind "
                       "uninstall), or wait until the pods are gone")


@check("calico-leftovers", permissions=perm.CALICO_LEFTOVERS_READ)
def calico_leftovers(ctx: StepContext) -> CheckResult:
    from netmig.kube.calico import inventory
    from netmig.kube.resources import Rest

    inv = inventory(Rest(ctx.kube))
    if inv.unreadable:
        return CheckResult("calico-leftovers", Outcome.ERROR, f"objects of {', '.join(inv.unreadable[:3])} cannot be "
                           "listed (they could not be backed up)", "fix access to those CRDs, then plan again")
    if inv.empty():
        return CheckResult("calico-leftovers", Outcome.WARN, "no Calico/Tigera objects left: nothing to clean up",
                           "nothing to do; the cleanup steps will be no-ops")
    return CheckResult("calico-leftovers", Outcome.PASS, f"to back up and delete: {inv.describe()}")
