"""Issue 10, item 2: exit codes that never lie -- "changed" is decided from the journal (one function for the Prefect
and the library path), exit 4 once the cluster was changed, the last line names the cluster's state and the next
command; 1 and 2 mean nothing was changed."""

from __future__ import annotations

from typing import Any

from netmig.engine.outcome import cluster_changed, cluster_state_line, failure
from netmig.engine.planning import load_template, new_plan
from netmig.errors import CheckFailed, FailedAfterChange, UsageError
from netmig.model.cluster import NetworkProfile
from tests.unit.engine.values import ENDPOINT, NOW, cluster


def _plan() -> Any:
    info = cluster(network=NetworkProfile(plugin="azure", policy="calico"))
    return new_plan(load_template("calico-to-self-managed"), info, arm_endpoint=ENDPOINT, now=NOW)


def ev(event: str, **kw: Any) -> dict[str, Any]:
    return {"time": "t", "event": event, **kw}


NONE = {"plugin": "azure", "plugin_mode": None, "policy": "none", "dataplane": None, "pod_cidr": None}


def test_nothing_changed_before_the_put_or_when_arm_refused_it() -> None:
    p = _plan()
    before = [ev("step-start", step="preflight"), ev("step-done", step="preflight"), ev("step-start", step="backup"),
              ev("step-start", step="lock"), ev("step-start", step="policy-none")]
    assert not cluster_changed(p, before)
    refused = [*before, ev("arm-put", step="policy-none", target=NONE), ev("arm-put-refused", step="policy-none")]
    assert not cluster_changed(p, refused)
    assert cluster_state_line(p, refused) == "cluster unchanged (azure-cni + calico)"
    err = failure(CheckFailed("ARM rejected the change", "fix it"), p, refused, "aks-netmig apply p.yaml --yes")
    assert err.exit_code == 1
    assert str(err).splitlines()[-1] == ("cluster unchanged (azure-cni + calico), nothing was changed; next: "
                                         "aks-netmig apply p.yaml --yes")
    bad = UsageError("plan p.yaml is malformed", "fix it")
    assert failure(bad, p, refused, "x") is bad  # bad input stays one line, exit 2


def test_after_the_put_a_failure_exits_4_and_names_the_unenforced_state() -> None:
    p = _plan()
    events = [ev("arm-put", step="policy-none", target=NONE), ev("set", key="policy-none.continuation_token"),
              ev("step-done", step="policy-none"), ev("step-start", step="watch-reimage")]
    assert cluster_changed(p, events)
    assert cluster_state_line(p, events).startswith("cluster is being reimaged to (or stopped on the way to) "
                                                    "azure-cni + none: NetworkPolicies are NOT enforced")
    events += [ev("step-done", step="watch-reimage"), ev("step-start", step="install-operator"),
               ev("step-failed", step="install-operator", error="x")]
    err = failure(UsageError("cannot download the manifest", "point it at a local copy"), p, events,
                  "aks-netmig apply p.yaml --yes")
    assert isinstance(err, FailedAfterChange) and err.exit_code == 4
    assert str(err).splitlines()[0] == "cannot download the manifest; point it at a local copy"
    assert str(err).splitlines()[-1] == (
        "cluster is at azure-cni + none: NetworkPolicies are NOT enforced; self-managed Calico is partly installed "
        "(step install-operator); the migration is NOT finished: fix the cause above, then resume with: "
        "aks-netmig apply p.yaml --yes")


def test_a_reattach_or_an_object_changing_step_counts_as_changed() -> None:
    p = _plan()
    assert cluster_changed(p, [ev("arm-reattach", step="policy-none")])
    assert cluster_changed(p, [ev("step-start", step="restore-policies")])
    assert not cluster_changed(p, [ev("step-start", step="export-policies"), ev("step-start", step="snapshot")])
