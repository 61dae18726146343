"""What a run left behind, from its journal: did it change the cluster, in which state is the cluster, and how does
a failure end (exit code and last line). One definition for the Prefect and the library path of ``apply``.

Contract:
- ``cluster_changed(plan, events)``: True once a network-profile PUT went out (an ``arm-put`` not followed by
  ``arm-put-refused`` for the same step, or an ``arm-reattach``: the cluster already showed the target) or a step
  that changes Kubernetes objects started (install-operator, apply-manifests, crd-cleanup, restore-policies,
  restore-verify-policies). Snapshots, backups, the Lease and probe pods do not count: they are cleaned up or
  read-only.
- ``cluster_state_line(plan, events)``: one line naming the cluster's state, e.g. ``cluster is at azure-cni + none:
  NetworkPolicies are NOT enforced`` or ``cluster unchanged (azure-cni + calico)``.
- ``failure(error, plan, events, next_command)``: the ``NetmigError`` a failed run ends with: exit 4
  (``FailedAfterChange``) when the cluster was changed, else the error's own code (1 or 2: "nothing was changed").
  Its last line names the cluster's state and the exact next command (a bad input, exit 2, stays one line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netmig.errors import FailedAfterChange, NetmigError, UsageError
from netmig.journal import Event, EventKind, as_events

Records = Iterable[Event | Mapping[str, Any]]  # the journal's events (or their dict form)


def changing_kinds() -> frozenset[str]:
    """The step kinds that change Kubernetes objects (the registry's ``changes_cluster``; the network-profile PUT
    is counted from its ``arm-put`` events instead)."""
    from netmig.engine import catalog

    catalog.load_builtins()
    return frozenset(catalog.changing_kinds()) - {"update-network-profile"}


def _puts(events: list[Event]) -> list[Event]:
    """The ``arm-put`` / ``arm-reattach`` events whose change went out (not refused by ARM)."""
    out: list[Event] = []
    for e in events:
        if e.kind in (EventKind.ARM_PUT, EventKind.ARM_REATTACH):
            out.append(e)
        elif e.kind == EventKind.ARM_PUT_REFUSED and out and out[-1].step == e.step:
            out.pop()
    return out


def cluster_changed(plan: Any, records: Records) -> bool:
    events = as_events(records)
    if _puts(events):
        return True
    kinds = {s.id: s.kind for s in plan.steps}
    changing = changing_kinds()
    return any(e.kind == EventKind.STEP_START and kinds.get(e.step or "") in changing for e in events)


def _profile_after(plan: Any, events: list[Event]) -> tuple[Any, bool]:
    """(the network profile the cluster is at or moving to, whether its reimage was watched to the end)."""
    from netmig.model.cluster import NetworkProfile
    from netmig.model.plan import step_target

    puts = _puts(events)
    if not puts:
        return plan.source_profile(), True
    last = puts[-1]
    profile = None
    if last.fields.get("target"):
        try:
            profile = NetworkProfile(**last.fields["target"])
        except TypeError:
            profile = None
    if profile is None:
        try:
            profile = step_target(plan.source_profile(), plan.step(str(last.step)))
        except KeyError:
            profile = plan.target_profile()
    after = events[events.index(last):]
    kinds = {s.id: s.kind for s in plan.steps}
    watched = any(e.kind == EventKind.STEP_DONE and kinds.get(e.step or "") == "watch-reimage" for e in after)
    return profile, watched


def cluster_state_line(plan: Any, records: Records) -> str:
    events = as_events(records)
    if not cluster_changed(plan, events):
        return f"cluster unchanged ({plan.source_profile().describe()})"
    profile, watched = _profile_after(plan, events)
    done = {e.step for e in events if e.kind == EventKind.STEP_DONE}
    started = {e.step for e in events if e.kind == EventKind.STEP_START}
    text = ("cluster is at " if watched else "cluster is being reimaged to (or stopped on the way to) ") + \
        profile.describe()
    notes = []
    if profile.engine == "none":
        notes.append("NetworkPolicies are NOT enforced")
    for s in plan.steps:
        if s.id in started and s.id not in done:
            if s.kind == "crd-cleanup":
                notes.append("Calico's objects are partly deleted (the run folder holds their backup)")
            elif s.kind in ("install-operator", "apply-manifests"):
                notes.append(f"self-managed Calico is partly installed (step {s.id})")
            elif s.kind in ("restore-policies", "restore-verify-policies"):
                notes.append(f"the NetworkPolicies are partly re-applied (step {s.id})")
    return text + (": " + "; ".join(notes) if notes else "")


def failure(error: NetmigError, plan: Any, events: Records, next_command: str) -> NetmigError:
    """See the module docstring. ``next_command``: the exact command to run next (e.g. the apply to resume)."""
    events = as_events(events)
    changed = cluster_changed(plan, events)
    if isinstance(error, UsageError) and not changed:
        return error  # bad input: one line, nothing was changed
    state = cluster_state_line(plan, events)
    fix = f"{error.fix}\n" if error.fix else "\n"
    if changed:
        return FailedAfterChange(error.problem, f"{fix}{state}; the migration is NOT finished: fix the cause "
                                                f"above, then resume with: {next_command}")
    out = error.__class__.__new__(error.__class__)
    NetmigError.__init__(out, error.problem, f"{fix}{state}, nothing was changed; next: {next_command}")
    return out
