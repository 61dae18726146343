"""backup-calico-policies and restore-verify-policies: the policies survive a path that takes the policy engine
away (kubenet+Calico -> overlay fallback: network policy none -> overlay -> calico), and the report says for how
long nothing enforced them.

- ``backup-calico-policies``: Calico's own policy objects (crd.projectcalico.org/v1 networkpolicies,
  globalnetworkpolicies, networksets, globalnetworksets, where the API exists) to RUN_DIR/backup-calico/ (one YAML
  list per kind and a manifest with sha256), verified by re-reading. Kubernetes NetworkPolicies are in the
  ``backup`` step's folder.
- ``restore-verify-policies``: every NetworkPolicy of the ``backup`` step (param ``backup_step``, default
  ``backup``) and every Calico object of ``calico_backup_step`` (default ``backup-calico``, optional) must exist
  with the same spec: a missing one is created again, a changed one is put back; then all are re-read and
  compared (``CheckFailed`` listing what still differs). Idempotent. It journals a ``report-note`` "Network
  policies" and, when a change on this run's path set the network policy to none, the unenforced window: from
  that PUT until the step named by ``enforced_after`` finished (default: now) -- also ``set unenforced-window``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from netmig.errors import CheckFailed
from netmig.journal import EventKind
from netmig.model.plan import PlanStep, step_target
from netmig.stepkit import variants
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, StepParams, step

CALICO_GROUP, CALICO_VERSION = "crd.projectcalico.org", "v1"
CALICO_KINDS = {"networkpolicies": True, "globalnetworkpolicies": False, "networksets": True,
                "globalnetworksets": False}  # plural -> namespaced
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")


def clean(o: dict[str, Any]) -> dict[str, Any]:
    """The object without status and server-set metadata (what re-creating it needs)."""
    out = {k: v for k, v in o.items() if k != "status"}
    meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    ann = {k: v for k, v in (meta.get("annotations") or {}).items()
           if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if ann:
        meta["annotations"] = ann
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def _key(o: dict[str, Any]) -> str:
    m = o.get("metadata") or {}
    return f"{m.get('namespace') or ''}/{m.get('name')}"


def _calico_list(ctx: StepContext, plural: str) -> list[dict[str, Any]] | None:
    """The objects of one Calico kind, None when the API does not exist."""
    from netmig.kube import errors
    from netmig.kube.client import translated

    try:
        with translated(f"listing {plural}.{CALICO_GROUP}"):
            res: Any = ctx.kube.custom.list_cluster_custom_object(CALICO_GROUP, CALICO_VERSION, plural)
    except errors.NotFound:
        return None
    return [dict(o) for o in res.get("items") or []]


@step("backup-calico-policies", params=NoParams)
def backup_calico_policies(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    previous = ctx.journal.value(f"{step.id}.dir")
    if previous and not _verify_dir(Path(previous)):
        return {"dir": previous, "reused": True}
    d = ctx.run_dir / f"backup-calico-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
    d.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for plural in CALICO_KINDS:
        items = _calico_list(ctx, plural)
        if items is None:
            continue
        items = [clean(o) for o in items]
        text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)
        (d / f"{plural}.yaml").write_text(text)
        manifest[f"{plural}.yaml"] = hashlib.sha256(text.encode()).hexdigest()
        counts[plural] = len(items)
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    problems = _verify_dir(d)
    if problems:
        raise CheckFailed(f"the Calico policy backup in {d} does not verify: {'; '.join(problems)}",
                          "check the disk, then rerun apply")
    ctx.journal.set(f"{step.id}.dir", str(d))
    return {"dir": str(d), **counts}


def _verify_dir(d: Path) -> list[str]:
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        return [f"manifest unreadable ({e.__class__.__name__})"]
    problems = []
    for name, sha in manifest.items():
        try:
            text = (d / name).read_text()
        except OSError:
            problems.append(f"{name} missing")
            continue
        if hashlib.sha256(text.encode()).hexdigest() != sha:
            problems.append(f"{name} changed since the backup")
    return problems


def _load(path: Path) -> list[dict[str, Any]]:
    return list((yaml.safe_load(path.read_text()) or {}).get("items") or [])


def _same(backed: dict[str, Any], live: dict[str, Any]) -> bool:
    a, b = clean(backed), clean(live)
    return bool(a.get("spec") == b.get("spec") and (a["metadata"].get("labels") or {}) ==
                (b["metadata"].get("labels") or {}))


def _restore_networkpolicies(ctx: StepContext, backed: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    from netmig.kube import errors
    from netmig.kube.client import translated

    created, replaced = [], []
    live = {_key(p): p for p in ctx.kube.network_policies()}
    for p in backed:
        k, body = _key(p), clean(p)
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if k not in live:
            with translated(f"re-creating NetworkPolicy {k}"):
                ctx.kube.net.create_namespaced_network_policy(ns, body)  # type: ignore[arg-type]
            created.append(k)
        elif not _same(p, live[k]):
            body["metadata"]["resourceVersion"] = live[k]["metadata"].get("resourceVersion")
            try:
                with translated(f"restoring NetworkPolicy {k}"):
                    ctx.kube.net.replace_namespaced_network_policy(name, ns, body)  # type: ignore[arg-type]
            except errors.Conflict:
                raise CheckFailed(f"NetworkPolicy {k} changed while it was being restored", "rerun apply") from None
            replaced.append(k)
    return created, replaced


def _restore_calico(ctx: StepContext, plural: str, backed: list[dict[str, Any]]) -> list[str]:
    from netmig.kube.client import translated

    live = {_key(o) for o in _calico_list(ctx, plural) or []}
    created = []
    for o in backed:
        if _key(o) in live:
            continue
        body = clean(o)
        ns = body["metadata"].get("namespace")
        with translated(f"re-creating {plural}.{CALICO_GROUP} {_key(o)}"):
            if CALICO_KINDS[plural] and ns:
                ctx.kube.custom.create_namespaced_custom_object(CALICO_GROUP, CALICO_VERSION, ns, plural, body)
            else:
                ctx.kube.custom.create_cluster_custom_object(CALICO_GROUP, CALICO_VERSION, plural, body)
        created.append(f"{plural}/{_key(o)}")
    return created


def _window(ctx: StepContext, step: PlanStep, after: str | None) -> dict[str, Any] | None:
    """The unenforced window of this run's path: from the policy-none PUT to ``enforced_after`` (or now)."""
    path = variants.path_steps(ctx.plan, variants.active(ctx))
    none_steps = {s.id for s in path if s.kind == "update-network-profile"
                  and step_target(ctx.plan.source_profile(), s).engine == "none"}
    if not none_steps or ctx.plan.source_profile().engine == "none":
        return None
    events = ctx.journal.read()
    starts = [e for e in events if e.is_(EventKind.ARM_PUT) and e.step in none_steps]
    if not starts:
        return None
    ends = [e.time for e in events if e.is_(EventKind.STEP_DONE) and e.step == after]
    end = ends[-1] if ends else dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    seconds = (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(starts[0]["time"])).total_seconds()
    return {"from": starts[0]["time"], "to": end, "seconds": round(seconds, 1), "from_step": starts[0]["step"],
            "to_step": after or step.id}


class RestoreVerifyParams(StepParams):
    backup_step: str = Field(default="backup", description="the backup step holding networkpolicies.yaml")
    calico_backup_step: str = Field(default="backup-calico", description="the backup-calico-policies step")
    enforced_after: str | None = Field(default=None, description="the step after which policies are enforced")


@step("restore-verify-policies", params=RestoreVerifyParams, changes_cluster=True)
def restore_verify_policies(ctx: StepContext, step: PlanStep, params: RestoreVerifyParams) -> dict[str, Any]:
    backup_dir = ctx.journal.value(f"{params.backup_step}.dir")
    if not backup_dir or not (Path(backup_dir) / "networkpolicies.yaml").is_file():
        raise CheckFailed("no NetworkPolicy backup of this run to restore from", "rerun apply (the backup step runs "
                          "before any change)")
    backed = _load(Path(backup_dir) / "networkpolicies.yaml")
    created, replaced = _restore_networkpolicies(ctx, backed)
    calico_dir = ctx.journal.value(f"{params.calico_backup_step}.dir")
    calico_created: list[str] = []
    calico_count = 0
    for plural in CALICO_KINDS:
        f = Path(calico_dir) / f"{plural}.yaml" if calico_dir else None
        if f is not None and f.is_file():
            items = _load(f)
            calico_count += len(items)
            calico_created += _restore_calico(ctx, plural, items)
    live = {_key(p): p for p in ctx.kube.network_policies()}
    differ = [_key(p) for p in backed if _key(p) not in live or not _same(p, live[_key(p)])]
    if differ:
        raise CheckFailed(f"NetworkPolicies still missing or different after the restore: {', '.join(differ)}",
                          f"compare with {backup_dir}/networkpolicies.yaml, then rerun apply")
    lines = [f"- {len(backed)} NetworkPolicies backed up before the change ({backup_dir}); after the migration "
             f"all {len(backed)} are present with the same spec and labels (re-read and compared).",
             f"- re-created: {', '.join(created) or 'none'}; put back: {', '.join(replaced) or 'none'}."]
    if calico_dir:
        lines.append(f"- {calico_count} Calico policy objects backed up ({calico_dir}); re-created: "
                     f"{', '.join(calico_created) or 'none'}.")
    window = _window(ctx, step, params.enforced_after)
    if window:
        ctx.journal.set("unenforced-window", window)
        lines.append(f"- **Unenforced window**: NetworkPolicies were not enforced from {window['from'][:19]} (PUT "
                     f"{window['from_step']}: network policy none) until {window['to'][:19]} ({window['to_step']}: "
                     f"Calico Ready again on every node): {window['seconds']} s.")
    else:
        lines.append("- The policy engine was never removed on this path: no unenforced window.")
    ctx.journal.record("report-note", title="Network policies", lines=lines)
    return {"policies": len(backed), "recreated": len(created), "restored": len(replaced),
            "calico_recreated": len(calico_created),
            "unenforced_s": window["seconds"] if window else 0.0}
