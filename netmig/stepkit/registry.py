"""Step kinds and preflight checks, registered with their metadata (the way kopf's handlers carry theirs).

Contract:
- ``@step("kind", params=ParamsModel, changes_cluster=...)`` registers ``fn(ctx, step, params) -> dict`` (a
  JSON-able result the journal keeps) as a ``StepKind`` and returns it. ``ParamsModel`` is a ``StepParams``
  (pydantic, unknown keys refused, frozen); the function receives ``step.params`` validated into it. Calling the
  ``StepKind`` as ``kind(ctx, step)`` validates and runs (what the runner and tests do).
- ``changes_cluster=True`` marks a kind whose run changes the cluster: templates must put an approval gate and the
  lock before it (``netmig.model.plan.validate_order`` with ``changing_kinds()``).
- ``@check("id")`` registers ``fn(ctx) -> CheckResult`` as a ``CheckKind`` (a failed check is a result, never an
  exception) and returns it; ``check_kind(id)(ctx)`` runs it.
- ``step_kind(kind)`` / ``check_kind(id)`` look up what is registered (``UnknownKind``, a ``UsageError``, when not);
  ``step_problems(step)`` is the one-line problem of a step (unknown kind or bad params) or None.
- Registering happens on import; ``netmig.engine.catalog.load_builtins()`` imports the built-in modules and the
  plugin modules (``NETMIG_STEP_MODULES``). Registering the same name twice with another function is a
  ``ValueError``.
- ``@register_resume_hook``: ``fn(ctx)`` runs at the start of every run, before the first step.
- Least privilege: ``@step(..., permissions=Permissions)`` and ``@check(id, permissions=Permissions)`` declare the
  Azure actions and Kubernetes rules the kind / check uses (``netmig.model.permissions``); ``ALWAYS_ON`` is what
  every run uses whatever its steps (reading the cluster and its pools, the kubeconfig, the migration Lease, which
  a background thread renews); a run also needs ``RECOVERY`` (``aks-netmig abort``, the documented recovery path:
  in every kind's run role, checked by apply's preflight). ``tests/e2e/test_permissions.py`` proves the
  declarations complete from the sandbox's request logs; ``needed(kinds, checks)`` is what a plan needs
  (``PLANNING``: what plan / preflight read besides their checks); ``netmig.engine.permissions`` turns it into
  roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netmig.errors import UsageError
from netmig.model.checks import CheckResult
from netmig.model.permissions import INVENTORY, NONE, RECOVERY, Permissions, kube, rules
from netmig.model.plan import StepSpec

if TYPE_CHECKING:
    from netmig.stepkit.context import StepContext

def seconds(default: float, description: str = "") -> Any:
    """A params field that is a number of seconds > 0 (finite)."""
    return Field(default=default, gt=0, allow_inf_nan=False, description=description)


class StepParams(BaseModel):
    """Base of every step kind's params model: unknown keys are refused, values are checked, the model is frozen.
    ``switch_variant`` (``{variant: [ARM error codes]}``) is structural plan data (``netmig.model.plan``) that any
    step may carry; the engine reads it, steps may too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    switch_variant: dict[str, list[str]] | None = None


class NoParams(StepParams):
    """A step kind that takes no params."""


class AnyParams(StepParams):
    """Any params, unchecked (``register_step``'s legacy two-argument functions)."""

    model_config = ConfigDict(extra="allow", frozen=True)


P = TypeVar("P", bound=StepParams)
StepFn = Callable[["StepContext", StepSpec, P], "dict[str, Any] | None"]
CheckFn = Callable[["StepContext"], CheckResult]


class UnknownKind(UsageError):
    """A template or plan names a step kind or check id nothing registered (exit 2)."""


@dataclass(frozen=True)
class StepKind(Generic[P]):
    """A registered step kind: its name, function, params model and whether running it changes the cluster."""

    kind: str
    fn: StepFn[P]
    params: type[P]
    changes_cluster: bool = False
    summary: str = ""
    permissions: Permissions = NONE

    def parse(self, step: StepSpec) -> P:
        """``step.params`` validated into the params model; ``UsageError`` (one line naming step and param)."""
        try:
            return self.params.model_validate(step.params)
        except ValidationError as e:
            err = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")[0]  # a misspelled name first
            where = ".".join(str(x) for x in err["loc"]) or "params"
            got = f" (got {err['input']!r})" if err["type"] not in ("extra_forbidden", "missing") else ""
            what = "is not a param of this kind" if err["type"] == "extra_forbidden" else err["msg"].lower()
            known = ", ".join(sorted(self.params.model_fields)) or "none"
            raise UsageError(f"step {step.id} ({self.kind}): param {where} {what}{got}"[:400],
                             f"fix params.{where} of step {step.id} (params of {self.kind}: {known})") from None

    def __call__(self, ctx: StepContext, step: StepSpec) -> dict[str, Any]:
        return self.fn(ctx, step, self.parse(step)) or {}


@dataclass(frozen=True)
class CheckKind:
    """A registered preflight check: its id and function."""

    id: str
    fn: CheckFn
    summary: str = ""
    permissions: Permissions = NONE

    def __call__(self, ctx: StepContext) -> CheckResult:
        return self.fn(ctx)


STEPS: dict[str, StepKind[Any]] = {}
CHECKS: dict[str, CheckKind] = {}
RESUME_HOOKS: list[Callable[[StepContext], None]] = []


def _summary(fn: Callable[..., Any]) -> str:
    return (fn.__doc__ or "").strip().split("\n", 1)[0]


_CS = "Microsoft.ContainerService/managedClusters"
ALWAYS_ON = rules(
    # the migration Lease (netmig.kube.lease): taken, renewed by a background thread, released
    kube("get,create,update,delete", "leases", "coordination.k8s.io", namespace="kube-system"),
    # GET cluster + pools before and after steps (drift, progress); the kubeconfig from listClusterUserCredential
    actions=(f"{_CS}/read", f"{_CS}/agentPools/read", f"{_CS}/listClusterUserCredential/action"),
)

# what `plan` / `preflight` read besides their checks: the cluster (ALWAYS_ON) and the inventory the policy
# analysis reads (netmig.engine.plan_build)
PLANNING = rules(actions=ALWAYS_ON.arm) | INVENTORY


def needed(step_kinds: Iterable[str], check_ids: Iterable[str], *, read_only: bool = False) -> Permissions:
    """What a run of these step kinds and checks needs: ``ALWAYS_ON`` + ``PLANNING`` + each one's declaration
    (unknown names are skipped: template validation reports them). ``read_only``: what ``plan`` / ``preflight``
    need (the checks and the planning reads, no step)."""
    out = PLANNING
    for cid in check_ids:
        if cid in CHECKS:
            out = out | CHECKS[cid].permissions
    if read_only:
        return out
    out = out | ALWAYS_ON
    for kind in step_kinds:
        if kind in STEPS:
            out = out | STEPS[kind].permissions
    return out | RECOVERY


def step(kind: str, *, params: type[P], changes_cluster: bool = False,
         permissions: Permissions = NONE) -> Callable[[StepFn[P]], StepKind[P]]:
    """Register ``fn(ctx, step, params)`` as step kind ``kind`` (see the module contract)."""
    def deco(fn: StepFn[P]) -> StepKind[P]:
        old = STEPS.get(kind)
        if old is not None and old.fn is not fn and getattr(old.fn, "__qualname__", None) != fn.__qualname__:
            raise ValueError(f"step kind {kind!r} registered twice")
        sk = StepKind(kind=kind, fn=fn, params=params, changes_cluster=changes_cluster, summary=_summary(fn),
                      permissions=permissions)
        STEPS[kind] = sk
        return sk
    return deco


def check(check_id: str, *, permissions: Permissions = NONE) -> Callable[[CheckFn], CheckKind]:
    """Register ``fn(ctx) -> CheckResult`` as preflight check ``check_id``."""
    def deco(fn: CheckFn) -> CheckKind:
        old = CHECKS.get(check_id)
        if old is not None and old.fn is not fn and getattr(old.fn, "__qualname__", None) != fn.__qualname__:
            raise ValueError(f"check {check_id!r} registered twice")
        ck = CheckKind(id=check_id, fn=fn, summary=_summary(fn), permissions=permissions)
        CHECKS[check_id] = ck
        return ck
    return deco


def register_step(kind: str, *, changes_cluster: bool = False,
                  permissions: Permissions = NONE) -> Callable[[Callable[..., Any]], StepKind[Any]]:
    """Legacy form: register a two-argument ``fn(ctx, step)`` with unchecked params (tests' toy steps)."""
    def deco(fn: Callable[..., Any]) -> StepKind[Any]:
        def run(ctx: StepContext, s: StepSpec, _: AnyParams) -> dict[str, Any] | None:
            result: dict[str, Any] | None = fn(ctx, s)
            return result
        run.__qualname__ = fn.__qualname__
        run.__doc__ = fn.__doc__
        return step(kind, params=AnyParams, changes_cluster=changes_cluster, permissions=permissions)(run)
    return deco


def register_resume_hook(fn: Callable[[StepContext], None]) -> Callable[[StepContext], None]:
    """``fn(ctx)`` runs at the start of every run, before the first step (e.g. re-take a lock a crashed run held)."""
    if fn not in RESUME_HOOKS:
        RESUME_HOOKS.append(fn)
    return fn


def step_kind(kind: str) -> StepKind[Any]:
    try:
        return STEPS[kind]
    except KeyError:
        raise UnknownKind(f"unknown step kind {kind!r}",
                          f"use one of the step kinds aks-netmig has: {', '.join(sorted(STEPS))}") from None


def check_kind(check_id: str) -> CheckKind:
    try:
        return CHECKS[check_id]
    except KeyError:
        raise UnknownKind(f"unknown check {check_id!r}",
                          f"use one of the checks aks-netmig has: {', '.join(sorted(CHECKS))}") from None


def changing_kinds() -> frozenset[str]:
    """The registered step kinds that change the cluster (``changes_cluster=True``)."""
    return frozenset(k for k, sk in STEPS.items() if sk.changes_cluster)


def params_of(step: StepSpec) -> StepParams:
    """``step``'s params, validated by its kind's model (``UsageError`` for an unknown kind or bad params)."""
    return step_kind(step.kind).parse(step)


def step_problems(step: StepSpec) -> UsageError | None:
    """The ``UsageError`` that makes ``step`` unusable (unknown kind, bad params), or None."""
    if step.kind not in STEPS:
        return UnknownKind(f"step {step.id}: unknown step kind {step.kind!r}",
                           f"use one of the step kinds aks-netmig has: {', '.join(sorted(STEPS))}")
    try:
        params_of(step)
    except UsageError as e:
        return e
    return None
