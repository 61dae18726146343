"""``plan`` and ``preflight``: read a cluster, run a migration kind's preflight checks and policy analysis.

Contract:
- ``PlanRequest`` is what ``aks-netmig plan`` / ``preflight`` take: the kind (or a template file), the cluster
  address, accepted check / rule ids, ``--set`` values, the overlay pod CIDR, whether the fallback path is allowed;
  for ``plan`` the file to write (``out``). The pod CIDR and the ``--set`` values are checked before anything is
  read (``UsageError``); then the address is resolved and, with ``check_access``, the credential tried
  (``netmig.commands.errors.access_error``).
- ``plan(req)`` makes the plan (``netmig.engine.plan_build.make_plan``, the one wiring of it) recording its
  command line (``netmig.commands.argv.plan_argv``) and writes it to ``out`` atomically -- unless
  ``only_if_runnable`` and a check blocks (apply would refuse it, and a file there would block the corrected
  retry). ``reuse_existing``: an existing file at ``out`` is the plan (a resumed run applies the plan it was
  approved with); nothing is read from the cluster then.
- ``preflight(req)`` makes the same plan and writes nothing.
- Both return a ``PlanResult``: the plan, its blocking checks, and whether / where it was written. A cluster that
  cannot be read is ``CheckFailed`` (the one translation in ``netmig.commands.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netmig.commands.argv import plan_argv
from netmig.commands.errors import cannot_read, check_access
from netmig.connection import Address, ArmTarget
from netmig.logs import get_logger
from netmig.model.checks import CheckResult
from netmig.model.plan import Plan

log = get_logger("netmig.commands")


@dataclass(frozen=True)
class PlanRequest:
    kind: str
    address: Address = field(default_factory=Address)
    accept: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    pod_cidr: str | None = None
    allow_fallback: bool = False
    fallbacks: tuple[str, ...] = ("fallback",)  # the variant names --allow-fallback allows
    out: Path | None = None  # plan: where to write it (and the --out of its recorded command line)
    check_access: bool = True  # try the credential first (one line naming what was tried)
    reuse_existing: bool = False  # plan: an existing file at out is the plan
    only_if_runnable: bool = False  # plan: not written when a check blocks
    target: ArmTarget | None = None  # an already resolved address (else ``address`` is resolved)


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    target: ArmTarget | None
    path: Path | None = None  # where the plan is (written now, or reused)
    written: bool = False
    reused: bool = False

    @property
    def blocking(self) -> list[CheckResult]:
        """The preflight results that block the plan (a failure not accepted, or a check that could not run)."""
        return self.plan.blocking()


def _make(req: PlanRequest, command: list[str] | None) -> tuple[Plan, ArmTarget]:
    from netmig.engine.plan_build import make_plan
    from netmig.engine.planning import load_template, parse_set
    from netmig.inputs import cidr

    load_template(req.kind)  # unknown step kinds, check ids, bad params: refused before any cluster access
    pod_cidr = cidr(req.pod_cidr) if req.pod_cidr else None  # refused before anything is read or sent
    step_params = parse_set(req.sets)
    target = req.target or req.address.target()
    if req.check_access:
        check_access(target)
    with cannot_read(target):
        plan = make_plan(req.kind, target, accepted=list(req.accept), polling_interval=target.arm_poll_seconds,
                         step_params=step_params, pod_cidr=pod_cidr,
                         allow_variants=list(req.fallbacks) if req.allow_fallback else [], plan_command=command)
    return plan, target


def preflight(req: PlanRequest) -> PlanResult:
    """The plan ``plan(req)`` would write, not written (see the module contract)."""
    plan, target = _make(req, None)
    return PlanResult(plan, target)


def plan(req: PlanRequest) -> PlanResult:
    """Make the plan and write it to ``req.out`` (see the module contract)."""
    from netmig.engine.planning import load_plan

    out = req.out
    if out is not None and req.reuse_existing and out.is_file():
        existing = load_plan(out)
        log.info("plan exists; using it", plan=str(out), migration=existing.migration_id)
        return PlanResult(existing, None, path=out, reused=True)
    command = plan_argv(req.kind, out, req.address, accept=req.accept, sets=req.sets,
                        pod_cidr=_normal_cidr(req.pod_cidr), allow_fallback=req.allow_fallback) if out else None
    made, target = _make(req, command)
    result = PlanResult(made, target, path=out)
    if out is not None and not (req.only_if_runnable and result.blocking):
        write_plan(made, out)
        log.info("plan written", plan=str(out), migration=made.migration_id)
        result = PlanResult(made, target, path=out, written=True)
    return result


def _normal_cidr(text: str | None) -> str | None:
    from netmig.inputs import cidr

    return cidr(text) if text else None


def write_plan(plan: Plan, path: Path) -> None:
    """Write the plan's YAML to ``path`` atomically (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(plan.to_yaml())
    tmp.replace(path)
