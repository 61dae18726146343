"""Wizard phases 2 and 3: which migrations fit the cluster, the one chosen, and the options that shape its plan."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from netmig.cli.wizard.answers import Answers
from netmig.cli.wizard_prompts import NO_DEFAULT, Option, Questions
from netmig.connection import sandbox_manifest
from netmig.errors import UsageError


def list_templates() -> list[Any]:
    """The migration kinds: every valid template in plans/ (concrete plans saved there are skipped)."""
    from netmig.engine.planning import PLANS_DIR, load_template

    out = []
    for path in sorted(PLANS_DIR.glob("*.yaml")):
        with contextlib.suppress(UsageError):
            out.append(load_template(path.stem))
    return out


LEFTOVERS_CHECK = "calico-leftovers"  # a template with this check cleans up leftovers: it fits when there are some


def applicability(template: Any, network: Any, leftovers: Callable[[], list[str] | None] | None = None) -> str | None:
    """None when ``template`` starts from ``network``'s profile; else why not (one line). A cleanup template (check
    ``calico-leftovers``, no profile change) fits only when ``leftovers()`` finds Calico/Tigera leftovers (None:
    they could not be read; preflight decides)."""
    from netmig.model.plan import apply_spec

    have = network.to_dict()
    wrong = [f"{k} is {have.get(k)!s}, it needs {v}" for k, v in template.source.model_dump().items()
             if v is not None and have.get(k) != v]
    if wrong:
        return "; ".join(wrong)
    if LEFTOVERS_CHECK in (template.checks or []):
        found = leftovers() if leftovers is not None else None
        if found is not None and not found:
            return ("no Calico/Tigera leftovers (no crd.projectcalico.org / operator.tigera.io CRD, no "
                    "v3.projectcalico.org APIService)")
        return None
    if apply_spec(network, template.target) == network:
        return "the cluster already has the target profile"
    return refused_by_aks(network, apply_spec(network, template.target))


def refused_by_aks(network: Any, target: Any) -> str | None:
    """Why AKS refuses moving ``network`` to ``target`` (netmig/model/transitions.yaml), one line; None otherwise."""
    from netmig.model.profiles import ProfileState, judge

    verdict = judge(ProfileState.from_network(network), ProfileState.from_network(target))
    if verdict.status != "refused" or not verdict.reasons:
        return None
    return f"AKS refuses it from this profile ({verdict.reasons[0].code}): {verdict.reasons[0].message}"


def read_leftovers(aks: Any, echo: Any) -> list[str] | None:
    """Calico/Tigera leftovers read through the cluster's Kubernetes API (``calico.leftover_markers``); None, with a
    note, when the API cannot be read."""
    from netmig.azure import errors as arm
    from netmig.kube import calico
    from netmig.kube import errors as kube
    from netmig.kube.gateway import KubeGateway
    from netmig.kube.resources import Rest

    try:
        with KubeGateway(aks.user_kubeconfig()) as gw:
            return calico.leftover_markers(Rest(gw))
    except (arm.ArmError, kube.KubeError, OSError) as e:
        echo(f"note: cannot read the cluster's Kubernetes API for Calico leftovers ({e}); preflight will tell")
        return None


def supports_pod_cidr(template: Any) -> bool:
    """The template takes a pod CIDR (``plan_options``) and ``plan`` has --pod-cidr."""
    from netmig.cli.plan_cmd import plan as plan_cmd

    return "pod_cidr" in (getattr(template, "plan_options", None) or []) \
        and any(p.name == "pod_cidr" for p in plan_cmd.params)


def fallbacks(template: Any, network: Any) -> list[Any]:
    """The template's non-default paths that apply to this cluster and that a plan must allow (``allow_flag``)."""
    have = network.to_dict()
    out = []
    for v in getattr(template, "variants", None) or []:
        if v.default or getattr(v, "allow_flag", None) != "--allow-fallback":
            continue
        spec = v.applies_if.model_dump() if v.applies_if is not None else {}
        if all(val is None or have.get(k) == val for k, val in spec.items()):
            out.append(v)
    return out


JOURNEY = "journey"  # the migration answer that picks the journey to JOURNEY_GOAL
JOURNEY_GOAL = "overlay-cilium"


def _journey_path(network: Any) -> Any:
    """The planner's chosen path from ``network``'s profile to JOURNEY_GOAL; None when there is none (or nothing to
    do)."""
    from netmig.journey.planner import plan_journey
    from netmig.model.profiles import ProfileState

    try:
        start, goal = ProfileState.from_network(network), ProfileState.parse(JOURNEY_GOAL)
    except ValueError:
        return None
    jp = plan_journey(start, goal)
    return jp.path if jp.path is not None and jp.path.stages else None


def journey_offer(network: Any) -> list[str] | None:
    """The journey from ``network``'s profile to Azure CNI Overlay + Cilium as lines (its first line the summary),
    or None when the cluster is there already or no journey exists."""
    path = _journey_path(network)
    if path is None:
        return None
    w = path.window
    return [f"{path.route()}: {len(path.stages)} stage(s), {path.reimages} reimage(s), "
            + (f"NetworkPolicies unenforced for {w.reimages} reimage(s)" if w.reimages else "no unenforced window")]


def journey_commands(a: Answers) -> list[list[str]]:
    """The journey's two commands for the cluster the wizard read (with the pod CIDR, the checks accepted and the
    probing budget given)."""
    from netmig.commands.argv import argv

    out = str(a.out or "journey.yaml")
    budget = [("--budget", a.budget if a.budget != "none" else None), ("--no-budget", a.budget == "none")]
    return [argv(["journey", "plan"], address=a.address, flags=[("--to", JOURNEY_GOAL), ("--accept", tuple(a.accept)),
                                                              ("--pod-cidr", a.pod_cidr), *budget, ("--out", out)]),
            argv(["journey", "apply"], out)]


def first_stage(a: Answers, info: Any) -> Answers:
    """The answers for the journey's stage 1 as a single migration (its kind, the pod CIDR when that stage takes
    one): ``journey plan`` makes stage 1's plan with its full preflight exactly like this, so the wizard runs that
    preflight first and the checks accepted there go into the printed journey command."""
    from netmig.engine.planning import load_template

    stage = _journey_path(info.network).stages[0]
    takes_cidr = "pod_cidr" in (load_template(stage.kind).plan_options or []) and stage.pod_cidr != "n/a"
    return replace(a, kind=stage.kind, pod_cidr=a.pod_cidr if takes_cidr else None, accept=list(a.accept))


def choose_migration(q: Questions, a: Answers, target: Any, info: Any, echo: Any) -> Any:
    """Phase 2: offer the journey to Azure CNI Overlay + Cilium first, then list the migrations (which fit the
    cluster), settle ``a.kind``; returns its template, or None when the journey was chosen (``a.kind`` JOURNEY).
    On a terminal the journey (when there is one) is the first choice of the selection and the one Enter takes;
    without a terminal the default stays the only migration that fits (the journey is never taken unasked)."""
    from netmig.azure.gateway import AksGateway

    offer = journey_offer(info.network)
    if offer:
        echo(f"\nRecommended journey to Azure CNI Overlay + Cilium (aks-netmig journey): {offer[0]}")
    templates = list_templates()
    found: list[list[str] | None] = []

    def leftovers() -> list[str] | None:  # read once, and only when a cleanup's source profile fits
        if not found:
            found.append(read_leftovers(AksGateway(target), echo))
        return found[0]

    why = {t.kind: applicability(t, info.network, leftovers) for t in templates}
    echo("\nMigrations:")
    for t in templates:
        detail = f" (leftovers: {'; '.join(found[0])})" if why[t.kind] is None and found and found[0] \
            and LEFTOVERS_CHECK in (t.checks or []) else ""
        echo(f"  {t.kind:<24} {'applies' + detail if why[t.kind] is None else 'n/a: ' + str(why[t.kind])}"
             f"  ({t.title})")
    fits = [t.kind for t in templates if why[t.kind] is None]
    if a.kind is None:  # the recommended journey is the first choice, and where the pointer starts on a terminal
        journey = [Option(f"{JOURNEY} (recommended): every stage to Azure CNI Overlay + Cilium ({offer[0]})",
                          JOURNEY)] if offer else []
        default: Any = fits[0] if len(fits) == 1 else NO_DEFAULT  # without a terminal: never the journey unasked
        a.kind = q.select("Migration", journey + [Option(f"{t.kind}: {t.title}", t.kind, why[t.kind])
                                                  for t in templates],
                          flag="--migration KIND", default=JOURNEY if journey and q.interactive else default)
    if a.kind == JOURNEY and offer:
        return None
    if a.kind not in why:
        raise UsageError(f"unknown migration kind {a.kind!r}", f"choose one of: {', '.join(sorted(why))}")
    elif why[a.kind]:
        echo(f"note: {a.kind} does not fit this cluster ({why[a.kind]}); preflight will say what fails")
    template = next(t for t in templates if t.kind == a.kind)
    if template.irreversible:
        echo(f"IRREVERSIBLE: {(template.irreversible_reason or '').strip()}")
    return template


def _cidr_problem(s: str) -> str | None:
    try:
        ipaddress.ip_network(s, strict=True)
    except ValueError as e:
        return str(e)
    return None


def journey_options(q: Questions, a: Answers, info: Any) -> None:
    """Phase 3 for the journey: the pod CIDR when a stage needs one (a move to Azure CNI Overlay from a node-subnet
    profile: ``journey plan`` refuses to plan without it), so the printed journey commands ask nothing more."""
    path = _journey_path(info.network)
    if a.pod_cidr is None and path is not None and any(t.pod_cidr == "required" for t in path.stages):
        a.pod_cidr = q.text("Overlay pod CIDR for the journey's move to Azure CNI Overlay (must not overlap the VNet, "
                            "services or peered networks)", flag="--pod-cidr CIDR", default=None,
                            validate=lambda s: _cidr_problem(s) if s else "a CIDR such as 192.168.0.0/16")


BUDGET_NODES = 50
"""Above this many nodes the wizard asks for the probing budget (on smaller clusters probing takes a minute or two
and the plan's 10 min budget covers every cell)."""


def _budget_problem(text: str) -> str | None:
    from netmig.engine.planning import budget_seconds

    try:
        budget_seconds(text.strip())
    except ValueError as e:
        return str(e)
    return None


def budget_options(q: Questions, a: Answers, template: Any, info: Any) -> None:
    """The probing budget: ``--budget`` / ``--no-budget`` as given, else asked on a cluster of more than
    ``BUDGET_NODES`` nodes (default: the plan's 10m, which adds nothing); an answer other than the default becomes
    the ``--set STEP.budget_s=...`` values of every probing step (``budget_sets``), so the printed commands carry it.
    Nothing is asked when ``--set`` already gives a probing step's budget."""
    from netmig.engine.planning import PROBING_KINDS, budget_sets, budget_text_sets

    probing = [s.id for s in template.steps if s.kind in PROBING_KINDS]
    if not probing and a.budget is not None:
        budget_sets(template.kind, None)  # the one-line refusal: this migration probes nothing
    if not probing or any(x.startswith(f"{sid}.budget_s=") for sid in probing for x in a.sets):
        return
    answer = a.budget
    if answer is None and info.node_count > BUDGET_NODES:
        answer = q.text(f"Probing time budget of each connectivity snapshot, before and after ({info.node_count} "
                        "nodes: every predicted change is probed, the rest sampled to fit; 'none' probes every "
                        "cell)", flag="--budget DURATION", default="10m", validate=_budget_problem)
    if answer is None or answer.strip() == "10m":
        return
    a.budget = answer.strip()
    a.sets += budget_text_sets(template.kind, a.budget, a.sets)


def plan_options(q: Questions, a: Answers, template: Any, info: Any, echo: Any) -> None:
    """Phase 3: the pod CIDR, the operator manifest, the probing budget, the fallback path (each asked only when
    it applies)."""
    if a.pod_cidr is None and supports_pod_cidr(template):
        a.pod_cidr = q.text("Overlay pod CIDR (empty: keep the current one; must not overlap the VNet, services or "
                            "peered networks)", flag="--pod-cidr CIDR", default=template.target.pod_cidr or "",
                            validate=lambda s: _cidr_problem(s) if s else None)  # "": keep (not asked again)
    for step in template.steps:  # the operator manifest a step installs: a reviewed local copy or a URL
        if step.kind == "install-operator" and not any(x.startswith(f"{step.id}.manifest=") for x in a.sets):
            default = str(step.params.get("manifest") or "")
            bundled = sandbox_manifest(a.address["sandbox"], "tigera-operator") if a.address.get("sandbox") else None
            if bundled:  # a sandbox cluster: the sandbox's own copy (the default URL may not be reachable here)
                echo(f"The sandbox ships a tigera-operator manifest: {bundled}")
            answer = q.text(f"tigera-operator manifest to install (step {step.id}: a path or https URL)",
                            flag=f"--set {step.id}.manifest=PATH_OR_URL", default=bundled or default,
                            validate=lambda s: None if s else "a path or an https URL")
            a.sets.append(f"{step.id}.manifest={answer}")  # always: the one-go command then asks nothing
    budget_options(q, a, template, info)
    a.fallbacks = fallbacks(template, info.network)
    for v in a.fallbacks:
        echo(f"\nFallback path: {v.title}")
        for note in getattr(v, "notes", []) or []:
            echo(f"  {note}")
        if a.allow_fallback is None:
            a.allow_fallback = q.confirm("Allow this fallback (used only if ARM refuses the direct change)?",
                                         flag="--allow-fallback / --no-fallback", default=False)
