"""The point of no return, proven: before the first step that changes the cluster irreversibly (a network-profile
PUT), everything the later steps need is in the run folder, verified, and re-checked right before the PUT.

Contract:
- ``pin_for_later_steps(ctx)`` (the preflight step calls it once every check passed): downloads or copies the
  manifest of every install-operator step to ``RUN_DIR/pinned/STEP-tigera-operator.yaml``, checks it (parses, holds
  the tigera-operator Deployment, matches ``manifest_sha256`` when the plan pins one) and journals ``STEP.pinned``
  ({source, path, sha256, objects}). Idempotent: a pinned copy that still has its recorded sha256 is kept.
- ``pinned_manifest(ctx, step)``: the documents and sha256 the install-operator step installs: the pinned copy (its
  sha256 re-checked); without a pin (a run folder of an older version) the source, read now.
- ``point_of_no_return_problems(ctx, step)``: why the PUT of ``step`` must not be sent (empty: go): a later
  install-operator step whose pinned manifest is missing or changed (never re-pinned silently; pinned now only when
  the journal has no pin at all); a backup / export of an earlier step that is missing or fails its checksums; the
  verification baseline (of a snapshot step recorded done) missing or unreadable when a verify step follows.
  ``ensure_point_of_no_return(ctx, step)`` raises ``CheckFailed`` with them ("nothing was changed").
- Failures here are never acceptable: they are about the run's own inputs, not the cluster's content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from netmig.errors import CheckFailed, NetmigError
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext

PIN_DIR = "pinned"
DIR_STEPS = ("backup", "export-policies", "backup-calico-policies")  # steps that journal STEP.dir


def pin_key(step_id: str) -> str:
    return f"{step_id}.pinned"


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def pin_manifest(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    """Pin the manifest of one install-operator step (see the module docstring); ``CheckFailed`` when it cannot
    be read or is not the one to install."""
    from netmig.manifests import content_problem, fetch_manifest
    from netmig.steps.install_operator import InstallOperatorParams

    rec = ctx.journal.value(pin_key(step.id))
    if rec and _sha(Path(rec["path"])) == rec.get("sha256"):
        return dict(rec)
    params = InstallOperatorParams.model_validate(step.params)
    source = params.manifest
    try:
        docs, sha, data = fetch_manifest(source)
    except NetmigError as e:
        raise CheckFailed(f"the tigera-operator manifest could not be pinned before the point of no return: "
                          f"{e.problem}", f"make it readable or plan again with --set {step.id}.manifest=FILE; "
                          "nothing was changed") from None
    problem = content_problem(source, docs, sha, params.manifest_sha256)
    if problem is not None:
        raise CheckFailed(f"the tigera-operator manifest is not the one to install: {problem[0]}",
                          f"{problem[1]}; nothing was changed")
    path = ctx.run_dir / PIN_DIR / f"{step.id}-tigera-operator.yaml"
    _write_atomic(path, data)
    rec = {"source": source, "path": str(path), "sha256": sha, "objects": len(docs)}
    ctx.journal.set(pin_key(step.id), rec)
    ctx.progress.message(f"pinned {source} ({len(docs)} objects, sha256 {sha[:16]}...) in {path}")
    return rec


def pin_for_later_steps(ctx: StepContext) -> list[dict[str, Any]]:
    return [pin_manifest(ctx, s) for s in ctx.plan.steps if s.kind == "install-operator"]


def pinned_manifest(ctx: StepContext, step: PlanStep) -> tuple[list[dict[str, Any]], str]:
    from netmig.manifests import load_manifest, parse_manifest
    from netmig.steps.install_operator import InstallOperatorParams

    rec = ctx.journal.value(pin_key(step.id))
    if not rec:
        return load_manifest(InstallOperatorParams.model_validate(step.params).manifest)
    path = Path(rec["path"])
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckFailed(f"the pinned manifest {path} cannot be read ({e.__class__.__name__})",
                          f"put the reviewed copy (sha256 {rec['sha256']}) back at {path}, then rerun apply") from None
    docs, sha, _ = parse_manifest(str(path), data)
    if sha != rec["sha256"]:
        raise CheckFailed(f"the pinned manifest {path} changed since it was pinned (sha256 {sha}, pinned "
                          f"{rec['sha256']})", f"put the reviewed copy back at {path}, then rerun apply")
    return docs, sha


def point_of_no_return_problems(ctx: StepContext, step: PlanStep) -> list[str]:
    from netmig import backups
    from netmig.steps.snapshot import SnapshotParams
    from netmig.verify import snapshot as snapmod

    steps = ctx.plan.steps
    i = steps.index(step)
    problems: list[str] = []
    for later in steps[i + 1:]:
        if later.kind == "install-operator":
            rec = ctx.journal.value(pin_key(later.id))
            if not rec:  # a run folder of an older version: pin it now, still before the point of no return
                try:
                    pin_manifest(ctx, later)
                except CheckFailed as e:
                    problems.append(e.problem)
            elif _sha(Path(rec["path"])) != rec["sha256"]:  # never silently re-pinned from the source
                problems.append(f"the pinned manifest {rec['path']} is missing or changed since it was pinned "
                                f"(sha256 {rec['sha256']})")
    done = set(ctx.journal.completed_steps())
    snapshots = [s for s in steps[:i] if s.kind == "connectivity-snapshot" and s.id in done]
    if snapshots and any(s.kind == "verify" for s in steps[i + 1:]):
        path = ctx.run_dir / SnapshotParams.model_validate(snapshots[-1].params).file
        try:
            snapmod.load(path)
        except Exception as e:  # missing, unreadable or malformed: the verification would have no baseline
            problems.append(f"the verification baseline {path} is missing or unreadable ({e.__class__.__name__})")
    for earlier in steps[:i]:
        if earlier.kind not in DIR_STEPS or earlier.id not in done:
            continue
        d = ctx.journal.value(f"{earlier.id}.dir")
        if not d or not Path(d).is_dir():
            problems.append(f"the {earlier.id} folder {d} is missing")
        else:  # every backup folder (apply backup, policy export, Calico policies): one verifier
            bad = backups.verify(Path(d))
            if bad:
                problems.append(f"the backup {d} fails verification: {'; '.join(bad[:3])}")
    return problems


def ensure_point_of_no_return(ctx: StepContext, step: PlanStep) -> None:
    problems = point_of_no_return_problems(ctx, step)
    if problems:
        ctx.journal.record("point-of-no-return-refused", step=step.id, problems=problems[:10])
        raise CheckFailed(f"not sending the network-profile change of step {step.id}: " + "; ".join(problems),
                          "restore or re-create what is named (a new plan and run folder if need be); nothing "
                          "was changed")
