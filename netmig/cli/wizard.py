"""``aks-netmig wizard``: a guided migration — pick a cluster and a migration, see preflight and the predicted
connectivity changes, choose options, review and save the plan, then run it now, schedule it in Prefect, or print
the runbook commands.

Contract:
- Every question has a flag (``wizard_prompts.Questions`` names it); given the flags the wizard asks nothing, and
  without a terminal it never prompts (a missing answer without a default is exit 2 naming the flag). It ends by
  printing the non-interactive commands that do the same (``aks-netmig plan ...`` + apply / prefect / runbook).
- The plan is the one ``aks-netmig plan`` writes with the printed flags (``make_plan``), written atomically, and
  only once every question was answered; Ctrl-C before that leaves nothing behind: exit 130, one line.
- Nothing here changes the cluster except "run now", which is ``aks-netmig apply`` itself.
- Subscriptions are listed through ARM (``AksGateway.list_subscriptions``, honouring --arm-endpoint/--ca-bundle;
  with --sandbox, the sandbox's ARM) before any cluster: without --subscription the choices are the ones ARM lists,
  then those known locally (AZURE_SUBSCRIPTION_ID, az CLI profile) that ARM did not list, each labelled; when the
  listing fails (e.g. no credential) one line says so and the local ones (or a typed id) are offered as before.
- A migration applies when the cluster has its template's source profile and is not already at its target; a
  cleanup template (check ``calico-leftovers``: calico-crd-cleanup) applies when the network policy is none and
  Calico/Tigera leftovers are there, read through the Kubernetes API (``calico.leftover_markers``: CRDs of
  crd.projectcalico.org / operator.tigera.io, the v3.projectcalico.org APIService).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import ipaddress
import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import ADDRESS_KEYS, cluster_options, configure_logging, polling_for
from netmig.cli.wizard_prompts import NO_DEFAULT, Option, Questions
from netmig.connection import sandbox_manifest
from netmig.errors import CheckFailed, NetmigError, UsageError

THEN = ("run", "schedule", "print")


class WizardInterrupted(NetmigError):
    """Ctrl-C in the wizard. Exit code 130."""

    exit_code = 130


@dataclass
class Answers:
    """What the wizard settled on; each field is a flag of ``aks-netmig wizard``."""

    address: dict[str, Any] = field(default_factory=dict)  # --sandbox, or --cluster [--arm-endpoint --ca-bundle]
    kind: str | None = None  # --migration
    pod_cidr: str | None = None  # --pod-cidr ("" keeps the current one)
    allow_fallback: bool | None = None  # --allow-fallback / --no-fallback (templates with a fallback path)
    accept: list[str] = field(default_factory=list)  # --accept (repeatable)
    sets: list[str] = field(default_factory=list)  # --set STEP.PARAM=VALUE (repeatable), e.g. the operator manifest
    then: str | None = None  # --then run|schedule|print
    start_at: dt.datetime | None = None  # --start-at
    approve: bool | None = None  # --yes / --approve-at-gate
    out: Path | None = None  # --out (or --plans-dir)
    saved: bool = False  # the plan file was written


# ---------------------------------------------------------------------------------------------- command lines
def _addr(address: dict[str, Any]) -> list[str]:
    from netmig.cli.status_cmd import address_args

    return address_args(address)


def plan_command(a: Answers) -> list[str]:
    """The ``aks-netmig plan`` line that makes the same plan (the plan command's own rendering when it has one, so
    the line recorded in the plan is the same either way)."""
    from netmig.cli import plan_cmd

    values = {"kind": str(a.kind), "out": a.out, "accept": tuple(a.accept), "pod_cidr": a.pod_cidr or None,
              "allow_fallback": bool(a.allow_fallback), "address": dict(a.address)}
    sets = [x for s in a.sets for x in ("--set", s)]
    render = getattr(plan_cmd, "plan_command", None)
    if render is not None and set(inspect.signature(render).parameters) <= set(values):
        return [*render(**{k: values[k] for k in inspect.signature(render).parameters}), *sets]
    cmd = ["aks-netmig", "plan", *_addr(a.address), "--migration", str(a.kind), "--out", str(a.out)]
    for x in a.accept:
        cmd += ["--accept", x]
    if a.pod_cidr:
        cmd += ["--pod-cidr", a.pod_cidr]
    return cmd + (["--allow-fallback"] if a.allow_fallback else []) + sets


def apply_command(a: Answers, *extra: str) -> list[str]:
    return ["aks-netmig", "apply", str(a.out), *_addr(a.address), *extra]


def wizard_command(a: Answers) -> list[str]:
    cmd = ["aks-netmig", "wizard", *_addr(a.address), "--migration", str(a.kind)]
    if a.pod_cidr:
        cmd += ["--pod-cidr", a.pod_cidr]
    if a.allow_fallback is not None and fallbacks_of(a):
        cmd.append("--allow-fallback" if a.allow_fallback else "--no-fallback")
    for x in a.accept:
        cmd += ["--accept", x]
    for x in a.sets:
        cmd += ["--set", x]
    cmd += ["--out", str(a.out), "--then", str(a.then)]
    if a.then == "schedule" and a.start_at is not None:
        cmd += ["--start-at", a.start_at.isoformat(timespec="minutes")]
    return [*cmd, "--yes" if a.approve else "--approve-at-gate"]


def runbook_commands(a: Answers) -> list[tuple[str, list[str]]]:
    status = ["aks-netmig", "status", str(a.out), *_addr(a.address)]
    return [("check the cluster has not changed since the plan", apply_command(a, "--dry-run")),
            ("run it (resumable: rerun the same command after any interruption)",
             apply_command(a, *(["--yes"] if a.approve else []))),
            ("progress, lock, last error and the resume command, from any shell", status),
            ("after a stall only: abort the ARM operation", ["aks-netmig", "abort", str(a.out), *_addr(a.address),
                                                            "--yes"])]


def runbook_for(kind: str) -> str:
    """The on-call runbook of a migration kind (docs/runbooks/), or a note that there is none yet."""
    books = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
    for name in (kind, "uninstall" if kind == "calico-crd-cleanup" else kind):
        if (books / f"{name}.md").is_file():
            return f"docs/runbooks/{name}.md"
    return f"no runbook for {kind} yet; these commands are the core of every runbook"


# ---------------------------------------------------------------------------------------------- the steps
def known_subscriptions() -> list[tuple[str, str]]:
    """(id, label) of the subscriptions this machine knows: AZURE_SUBSCRIPTION_ID and az CLI's profile (no az
    process, no extra SDK: ARM lists clusters per subscription)."""
    out: dict[str, str] = {}
    env = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if env:
        out[env] = "from AZURE_SUBSCRIPTION_ID"
    profile = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure") / "azureProfile.json"
    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        for s in json.loads(profile.read_text(encoding="utf-8-sig")).get("subscriptions") or []:
            if s.get("id"):
                out.setdefault(s["id"], f"{s.get('name') or ''}{' (default)' if s.get('isDefault') else ''}"
                                        " (az CLI profile)")
    return sorted(out.items(), key=lambda kv: kv[1])


def arm_subscriptions(base: Any, echo: Any, fallback: str) -> list[tuple[str, str]] | None:
    """(id, display name) of the Enabled subscriptions listed through ARM (``AksGateway.list_subscriptions``) at
    ``base``'s endpoint with its credential and CA bundle; None, after one line saying why and ``fallback``, when it
    fails."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway

    try:
        return AksGateway(base, polling_interval=polling_for(base)).list_subscriptions()
    except arm.ArmError as e:
        echo(f"note: cannot list the subscriptions through ARM ({(str(e) or repr(e)).splitlines()[0]}); {fallback}")
        return None


def subscription_choices(listed: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """(id, label): the subscriptions listed through ARM, then the locally known ones ARM did not list."""
    out = {sid: f"{name} (listed through ARM)".lstrip() for sid, name in listed or []}
    for sid, label in known_subscriptions():
        if sid in out:
            continue
        out[sid] = label if listed is None else f"{label} (not listed through ARM)"
    return list(out.items())


def _pick_cluster(q: Questions, opts: dict[str, Any], echo: Any) -> tuple[Any, dict[str, Any]]:
    """(ArmTarget, address flags) from the flags, or by listing clusters through ARM."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway
    from netmig.connection import PUBLIC_ARM, ArmTarget, from_sandbox_dir, resolve
    from netmig.model.cluster import ClusterRef

    if opts.get("cluster") or (opts.get("subscription") and opts.get("resource_group") and opts.get("name")):
        target = resolve(**{k: opts.get(k) for k in ADDRESS_KEYS if k != "sandbox"})
        return target, {"cluster": target.ref.resource_id, "arm_endpoint": opts.get("arm_endpoint"),
                        "ca_bundle": opts.get("ca_bundle")}
    if opts.get("sandbox"):
        base = from_sandbox_dir(opts["sandbox"])
        subscription = base.ref.subscription_id
        echo(f"Sandbox {opts['sandbox']}: ARM at {base.endpoint}, subscription {subscription}")
        listed = arm_subscriptions(base, echo, "using the sandbox's own")
        if listed is not None:
            names = dict(listed)
            echo(f"Subscription {subscription}: {names[subscription]} (listed through ARM)" if subscription in names
                 else f"note: ARM does not list the sandbox's subscription {subscription}")
    else:
        if opts.get("ca_bundle") and not Path(opts["ca_bundle"]).exists():
            raise UsageError(f"CA bundle {opts['ca_bundle']} does not exist", "pass a PEM file to --ca-bundle")
        subscription = str(opts.get("subscription") or "")
        if not subscription:
            probe = ArmTarget(ref=ClusterRef("-", "-", "-"), endpoint=(opts.get("arm_endpoint") or PUBLIC_ARM)
                              .rstrip("/"), ca_bundle=opts.get("ca_bundle"))
            known = subscription_choices(arm_subscriptions(
                probe, echo, "showing the ones known locally (AZURE_SUBSCRIPTION_ID, az CLI profile), or type one"))
            options = [Option(f"{sid}  {label}", sid) for sid, label in known] + [Option("another subscription id",
                                                                                         "")]
            subscription = q.select("Subscription", options, flag="--subscription ID",
                                    default=known[0][0] if len(known) == 1 else NO_DEFAULT) if known else ""
            if not subscription:
                subscription = q.text("Subscription id", flag="--subscription ID",
                                      validate=lambda s: None if s else "a subscription id, e.g. from az account list")
        base = ArmTarget(ref=ClusterRef(subscription, "-", "-"),
                         endpoint=(opts.get("arm_endpoint") or PUBLIC_ARM).rstrip("/"), ca_bundle=opts.get("ca_bundle"))
    try:
        refs = AksGateway(base, polling_interval=polling_for(base)).list_clusters()
    except arm.ArmError as e:
        raise CheckFailed(f"cannot list the clusters of subscription {subscription}: {e}",
                          "check the subscription and the credentials (az login / AZURE_* variables)") from e
    if opts.get("resource_group"):
        refs = [r for r in refs if r.resource_group.lower() == str(opts["resource_group"]).lower()]
    if not refs:
        raise CheckFailed(f"no AKS cluster in subscription {subscription}"
                          + (f" resource group {opts['resource_group']}" if opts.get("resource_group") else ""),
                          "pick another subscription (--subscription)")
    if len(refs) == 1:
        ref = refs[0]
        echo(f"Cluster {ref} (the only one listed)")
    else:
        ref = q.select("Cluster", [Option(str(r), r) for r in refs],
                       flag="--cluster RESOURCE_ID (or --resource-group RG --name NAME)")
    if opts.get("sandbox"):
        return replace(base, ref=ref), {"sandbox": opts["sandbox"]}
    target = replace(base, ref=ref)
    return target, {"cluster": ref.resource_id, "arm_endpoint": opts.get("arm_endpoint"),
                    "ca_bundle": opts.get("ca_bundle")}


def describe_cluster(info: Any) -> str:
    n = info.network
    lines = [f"Cluster {info.ref} ({info.location}), Kubernetes {info.kubernetes_version}, {info.provisioning_state}",
             f"  network profile  plugin {n.plugin}" + (f" (mode {n.plugin_mode})" if n.plugin_mode else "")
             + f", policy {n.policy}, dataplane {n.dataplane}"
             + (f", pod CIDR {n.pod_cidr}" if n.pod_cidr else "") + (f", service CIDR {n.service_cidr}"
                                                                       if n.service_cidr else ""),
             f"  in short         {n.describe()}",
             "  node pools       " + ", ".join(f"{p.name} ({p.mode}, {p.os_type}, {p.count} nodes, "
                                               f"{p.provisioning_state})" for p in info.pools)]
    return "\n".join(lines)


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
    from netmig.engine.planning import apply_spec

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
    return None


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


_FALLBACKS: dict[str, list[Any]] = {}


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
    _FALLBACKS[template.kind] = out
    return out


def fallbacks_of(a: Answers) -> list[Any]:
    return _FALLBACKS.get(str(a.kind), [])


def _make_plan(a: Answers, target: Any) -> Any:
    from netmig.cli.preflight_cmd import run_preflight
    from netmig.engine.planning import parse_set

    extra: dict[str, Any] = {"pod_cidr": a.pod_cidr} if a.pod_cidr else {}
    if a.sets:
        extra["step_params"] = parse_set(a.sets)
    if a.allow_fallback:
        extra["allow_variants"] = [v.name for v in fallbacks_of(a)]
    return run_preflight(str(a.kind), target, a.accept, **extra)


def next_window(now: dt.datetime | None = None) -> dt.datetime:
    """The next Saturday 02:00 local time (prefect.yaml's example maintenance window)."""
    now = (now or dt.datetime.now().astimezone()).replace(second=0, microsecond=0)
    days = (5 - now.weekday()) % 7 or 7
    return (now + dt.timedelta(days=days)).replace(hour=2, minute=0)


def parse_when(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """ISO 8601 ('2026-12-05T02:00+01:00'; without an offset: this machine's time zone), in the future."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a time", "write ISO 8601, e.g. 2026-12-05T02:00+01:00") from None
    if when.tzinfo is None:
        when = when.astimezone()
    if when <= (now or dt.datetime.now(dt.UTC)):
        raise UsageError(f"{text!r} is in the past", "give a time in the future")
    return when


def _check_out(path: Path) -> str | None:
    from netmig.engine.session import run_dir_for

    if path.is_dir():
        return f"{path} is a folder"
    if (run_dir_for(path) / "journal.jsonl").exists():
        return f"a migration already ran from {path} ({run_dir_for(path)} exists); choose another file"
    if path.suffix not in (".yaml", ".yml"):
        return "the plan file name ends in .yaml"
    return None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- the wizard
def run_wizard(q: Questions, a: Answers, opts: dict[str, Any], plans_dir: Path, *, invoke_apply: Any,
               echo: Any = click.echo) -> Answers:
    """The wizard as a library function (the command fills ``a`` and ``opts`` from its flags)."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway
    from netmig.cli.plan_cmd import render_plan
    from netmig.cli.preflight_cmd import blocking_checks, render_report

    # 1. the cluster
    target, a.address = _pick_cluster(q, opts, echo)
    try:
        info = AksGateway(target, polling_interval=polling_for(target)).cluster()
    except arm.ArmError as e:
        raise CheckFailed(f"cannot read {target.describe()}: {e}", "check the address and the credentials") from e
    echo("\n" + describe_cluster(info))

    # 2. the migration
    templates = list_templates()
    found: list[list[str] | None] = []

    def leftovers() -> list[str] | None:  # read once, and only when a cleanup's source profile fits
        if not found:
            found.append(read_leftovers(AksGateway(target, polling_interval=polling_for(target)), echo))
        return found[0]

    why = {t.kind: applicability(t, info.network, leftovers) for t in templates}
    echo("\nMigrations:")
    for t in templates:
        detail = f" (leftovers: {'; '.join(found[0])})" if why[t.kind] is None and found and found[0] \
            and LEFTOVERS_CHECK in (t.checks or []) else ""
        echo(f"  {t.kind:<24} {'applies' + detail if why[t.kind] is None else 'n/a: ' + str(why[t.kind])}"
             f"  ({t.title})")
    fits = [t.kind for t in templates if why[t.kind] is None]
    if a.kind is None:
        a.kind = q.select("Migration", [Option(f"{t.kind}: {t.title}", t.kind, why[t.kind]) for t in templates],
                          flag="--migration KIND", default=fits[0] if len(fits) == 1 else NO_DEFAULT)
    elif a.kind not in why:
        raise UsageError(f"unknown migration kind {a.kind!r}", f"choose one of: {', '.join(sorted(why))}")
    elif why[a.kind]:
        echo(f"note: {a.kind} does not fit this cluster ({why[a.kind]}); preflight will say what fails")
    template = next(t for t in templates if t.kind == a.kind)
    if template.irreversible:
        echo(f"IRREVERSIBLE: {(template.irreversible_reason or '').strip()}")

    # 3. options that shape the plan
    if a.pod_cidr is None and supports_pod_cidr(template):
        def cidr_problem(s: str) -> str | None:
            try:
                ipaddress.ip_network(s, strict=True)
            except ValueError as e:
                return str(e)
            return None
        a.pod_cidr = q.text("Overlay pod CIDR (empty: keep the current one; must not overlap the VNet, services or "
                            "peered networks)", flag="--pod-cidr CIDR", default=template.target.pod_cidr or "",
                            validate=lambda s: cidr_problem(s) if s else None) or None
    for step in template.steps:  # the operator manifest a step installs: a reviewed local copy or a URL
        if step.kind == "install-operator" and not any(x.startswith(f"{step.id}.manifest=") for x in a.sets):
            default = str(step.params.get("manifest") or "")
            bundled = sandbox_manifest(a.address["sandbox"], "tigera-operator") if a.address.get("sandbox") else None
            if bundled:  # a sandbox cluster: the sandbox's own copy (the default URL may not be reachable here)
                echo(f"The sandbox ships a tigera-operator manifest: {bundled}")
            answer = q.text(f"tigera-operator manifest to install (step {step.id}: a path or https URL)",
                            flag=f"--set {step.id}.manifest=PATH_OR_URL", default=bundled or default,
                            validate=lambda s: None if s else "a path or an https URL")
            if answer != default:
                a.sets.append(f"{step.id}.manifest={answer}")
    for v in fallbacks(template, info.network):
        echo(f"\nFallback path: {v.title}")
        for note in getattr(v, "notes", []) or []:
            echo(f"  {note}")
        if a.allow_fallback is None:
            a.allow_fallback = q.confirm("Allow this fallback (used only if ARM refuses the direct change)?",
                                         flag="--allow-fallback / --no-fallback", default=False)

    # 4. preflight and analysis, acceptance
    echo("\nRunning preflight and the policy analysis ...")
    plan = _make_plan(a, target)
    echo(render_report(plan))
    blocking = blocking_checks(plan)
    acceptable = [r for r in blocking if r["outcome"] == "fail" and r.get("acceptable", True)]
    for r in blocking:
        if r not in acceptable:  # could not run, or not about the cluster: fix it, never accept it
            echo(f"  cannot be accepted: {r['check']}: {r['reason']}" + (f" -- {r['fix']}" if r.get("fix") else ""))
    if acceptable and not a.accept:
        a.accept = q.checkbox("These checks fail. Accept (the plan records it; apply goes ahead despite them):",
                              [Option(f"{r['check']}: {r['reason']}", r["check"]) for r in acceptable],
                              flag="--accept ID", default=[])
        if a.accept:
            echo(f"Accepting {', '.join(a.accept)}; preflight again ...")
            plan = _make_plan(a, target)
            blocking = blocking_checks(plan)
    if blocking:
        pre = ["aks-netmig", "preflight", *_addr(a.address), "--migration", str(a.kind),
               *[x for acc in a.accept for x in ("--accept", acc)], *[x for st in a.sets for x in ("--set", st)],
               *(["--pod-cidr", a.pod_cidr] if a.pod_cidr else []), *(["--allow-fallback"] if a.allow_fallback
                                                                        else [])]
        raise CheckFailed(f"preflight fails ({', '.join(r['check'] for r in blocking)}); nothing was written",
                          f"fix it or accept it, then check again with: {shlex.join(pre)}")

    # 5. when, and approval
    if a.then is None:
        a.then = q.select("When should it run?", [
            Option("now, from this terminal (aks-netmig apply)", "run"),
            Option("in a maintenance window: schedule it in Prefect", "schedule"),
            Option("later: print the runbook commands", "print")], flag="--then run|schedule|print", default="print")
    if a.then == "schedule" and a.start_at is None:
        def when_problem(s: str) -> str | None:
            try:
                parse_when(s)
            except UsageError as e:
                return e.problem
            return None
        a.start_at = parse_when(q.text("Maintenance window start (ISO 8601, local time unless an offset is given)",
                                       flag="--start-at TIME", default=next_window().isoformat(timespec="minutes"),
                                       validate=when_problem))
    if a.approve is None:
        gate = {"run": "apply asks at the approval gate on this terminal",
                "schedule": "the run waits at the approval gate for a form in the Prefect UI",
                "print": "apply without --yes pauses at the approval gate (exit 3)"}[a.then]
        a.approve = q.confirm(f"Approve the migration now? (no: {gate})", flag="--yes / --approve-at-gate",
                              default=False)

    # 6. review and save
    echo("\n" + render_plan(plan))
    if a.out is None:
        suggested = plans_dir / f"{info.ref.name}-{a.kind}.yaml"
        if _check_out(suggested):
            suggested = plans_dir / f"{info.ref.name}-{a.kind}-{dt.datetime.now():%Y%m%d-%H%M}.yaml"
        a.out = Path(q.text("Save the plan as", flag="--out FILE (or --plans-dir DIR)", default=str(suggested),
                            validate=lambda s: _check_out(Path(s)) if s else "a file name"))
        action = {"run": "run it now", "schedule": "schedule it", "print": "print the runbook commands"}[a.then]
        if not q.confirm(f"Write {a.out} and {action}?", flag="--out FILE", default=True):
            echo("Nothing was written.")
            a.out = None
            return a
    else:
        problem = _check_out(a.out)
        if problem:
            raise UsageError(problem, "pass another --out")
    if "plan_command" in type(plan).model_fields:  # the plan records the command line that makes it
        plan.plan_command = plan_command(a)
    _write_atomically(a.out, plan.to_yaml())
    a.saved = True
    echo(f"\nPlan written to {a.out}.")

    # 7. act
    try:
        if a.then == "run":
            echo(f"Applying it: {shlex.join(apply_command(a, *(['--yes'] if a.approve else [])))}\n")
            invoke_apply(a)
        elif a.then == "schedule":
            _schedule(a, echo)
        else:
            echo(f"\nRunbook ({runbook_for(str(a.kind))}) — non-interactive, from any shell:")
            for why_, cmd in runbook_commands(a):
                echo(f"  # {why_}\n  {shlex.join(cmd)}")
    finally:
        echo("\nThe same without the wizard:")
        echo(f"  {shlex.join(plan_command(a))}")
        if a.then == "run":
            echo(f"  {shlex.join(apply_command(a, *(['--yes'] if a.approve else [])))}")
        echo(f"  # or in one go: {shlex.join(wizard_command(a))}")
    return a


def _schedule(a: Answers, echo: Any) -> None:
    from netmig.cli import wizard_prefect as wp

    assert a.out is not None and a.start_at is not None
    flow_name, deployment = wp.find_deployment(str(a.kind))
    params = wp.run_parameters(str(a.kind), a.address, a.out, bool(a.approve))
    cmd = wp.prefect_command(flow_name, deployment, a.start_at, params)
    if os.environ.get("PREFECT_API_URL"):
        run = wp.schedule(flow_name, deployment, a.start_at, params)
        echo(f"Scheduled flow run {run['name']} ({run['id']}) of {run['deployment']} at {run['scheduled_time']}"
             + ("" if a.approve else "; it waits for approval in the Prefect UI") + ".")
        echo(f"  (the same by hand: {cmd})")
    else:
        echo("PREFECT_API_URL is not set: schedule it with")
        echo(f"  {cmd}")
        echo(f"Prefect shows it as deployment {flow_name}/{deployment}"
             + ("" if a.approve else "; the run waits for approval in the Prefect UI") + ".")


def _interactive(ctx: click.Context) -> bool:
    forced = (ctx.obj or {}).get("interactive")
    if forced is not None:  # set by tests that drive the prompts through prompt_toolkit's pipe input
        return bool(forced)
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command()
@cluster_options
@click.option("--migration", "kind", help="Migration kind (plans/KIND.yaml); asked when not given.")
@click.option("--pod-cidr", help="Overlay pod CIDR for migrations to overlay (default: keep the current one).")
@click.option("--allow-fallback/--no-fallback", "allow_fallback", default=None,
              help="Allow the migration's fallback path (kubenet+Calico -> overlay), used only if ARM refuses.")
@click.option("--accept", multiple=True, help="Accept a failing check id or analysis rule id (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="STEP.PARAM=VALUE",
              help="Set a step parameter in the plan (repeatable), e.g. install-operator.manifest=FILE_OR_URL.")
@click.option("--then", "then", type=click.Choice(THEN), help="After saving: run now, schedule in Prefect, or print "
              "the runbook commands.")
@click.option("--start-at", help="With --then schedule: when (ISO 8601, e.g. 2026-12-05T02:00+01:00).")
@click.option("--yes/--approve-at-gate", "approve", default=None,
              help="Approve now, or leave it to the approval gate (a prompt, or the Prefect UI form).")
@click.option("--plans-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("plans"),
              show_default=True, help="Where plans are saved (file CLUSTER-KIND.yaml unless --out).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The plan file to write.")
@click.pass_context
def wizard(ctx: click.Context, kind: str | None, pod_cidr: str | None, allow_fallback: bool | None,
           accept: tuple[str, ...], sets: tuple[str, ...], then: str | None, start_at: str | None,
           approve: bool | None, plans_dir: Path, out: Path | None, **kwargs: Any) -> None:
    """Guided migration: cluster, migration, preflight and predicted changes, options, plan, then run/schedule."""
    configure_logging()
    if pod_cidr:
        from netmig.inputs import cidr

        pod_cidr = cidr(pod_cidr)  # refused before any question is asked or anything read
    if sets:
        from netmig.engine.planning import parse_set

        parse_set(sets)
    opts = {k: kwargs.get(k) for k in ADDRESS_KEYS}
    answers = Answers(kind=kind, pod_cidr=pod_cidr, allow_fallback=allow_fallback, accept=list(accept),
                      sets=list(sets), then=then,
                      start_at=parse_when(start_at) if start_at else None, approve=approve, out=out)
    q = Questions(interactive=_interactive(ctx))

    def invoke_apply(a: Answers) -> None:
        from netmig.cli.apply_cmd import apply

        ctx.invoke(apply, plan_path=a.out, yes=bool(a.approve), **{k: a.address.get(k) for k in ADDRESS_KEYS})

    try:
        run_wizard(q, answers, opts, plans_dir, invoke_apply=invoke_apply)
    except KeyboardInterrupt:
        if answers.saved:
            resume = shlex.join(apply_command(answers, *(["--yes"] if answers.approve else [])))
            what = "while applying" if answers.then == "run" else "after saving the plan"
            raise WizardInterrupted(f"interrupted {what}; the plan is saved at {answers.out}",
                                    f"resume or start it with: {resume}") from None
        raise WizardInterrupted("interrupted: nothing was written and the cluster was not changed",
                                "run the wizard again") from None
