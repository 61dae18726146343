"""The tigera steps against the sandbox's simulated operator: statuses AKS left behind are stale (never taken for
the new operator's), and the premature CRD cleanup the engine refuses to plan ends in TigeraStatus calico Degraded,
which wait-tigerastatus reports with the operator's own reason."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from netmig.errors import CheckFailed
from netmig.kube import calico
from netmig.kube.gateway import KubeGateway
from netmig.kube.resources import Rest
from netmig.model.plan import PlanStep
from netmig.stepkit.context import ProgressSink
from netmig.steps.apply_manifests import apply_manifests
from netmig.steps.install_operator import install_operator
from netmig.steps.wait_tigerastatus import wait_tigerastatus
from tests.e2e.calico_helpers import MANIFEST, uninstall_by_hand


class Messages(ProgressSink):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


class Notes:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})

    def value(self, key: str, default: Any = None) -> Any:
        found = default
        for e in self.events:
            if e["event"] == "set" and e.get("key") == key:
                found = e.get("value")
        return found


@dataclass
class Ctx:
    """What these steps use of a StepContext."""

    kube: KubeGateway
    progress: Messages = field(default_factory=Messages)
    journal: Notes = field(default_factory=Notes)
    clock: Any = time.monotonic

    def sleep(self, seconds: float) -> bool:
        time.sleep(min(seconds, 0.05))
        return False


INSTALLATION = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
                "spec": {"kubernetesProvider": "AKS", "cni": {"type": "AzureVNET"}}}


def test_premature_crd_cleanup_is_reported_degraded_with_the_operators_reason(sandbox_factory: Any) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    uninstall_by_hand(sb.directory)
    with KubeGateway(sb.directory / "kubeconfig") as gw:
        ctx: Any = Ctx(gw)
        # the premature cleanup: Calico's crd.projectcalico.org CRDs deleted before the operator install
        rest = Rest(gw)
        for item in calico.inventory(rest).crds:
            if item.obj["spec"]["group"] == "crd.projectcalico.org":
                rest.delete(item.res, None, item.name)
        install_operator(ctx, PlanStep(id="install-operator", kind="install-operator",
                                       params={"manifest": str(MANIFEST), "timeout_s": 30, "poll_s": 0.05}))
        apply_manifests(ctx, PlanStep(id="installation", kind="apply-manifests", params={"objects": [INSTALLATION]}))
        with pytest.raises(CheckFailed) as e:
            wait_tigerastatus(ctx, PlanStep(id="tigerastatus", kind="wait-tigerastatus",
                                            params={"components": ["calico"], "timeout_s": 30, "poll_s": 0.05,
                                                    "degraded_s": 0}))
        assert "tigerastatus calico is Degraded: ResourceNotFound" in str(e.value)
        assert "crd.projectcalico.org" in str(e.value)
        assert any("calico Degraded" in line for line in ctx.progress.lines)


class FakeRest:
    """TigeraStatus / CR reads for the freshness rule (no cluster)."""

    objects: dict[tuple[str, str], dict[str, Any]] = {}

    def __init__(self, gw: Any) -> None:
        pass

    def resource(self, api: str, kind: str) -> str:
        return kind

    def get(self, res: str, ns: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get((res, name))


def _status(available: str, generation: int | None) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": "Available", "status": available, "message": "m"}
    if generation is not None:
        cond["observedGeneration"] = generation
    return {"status": {"conditions": [cond]}}


def test_only_fresh_statuses_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import netmig.kube.resources

    monkeypatch.setattr(netmig.kube.resources, "Rest", FakeRest)
    FakeRest.objects = {("Installation", "default"): {"metadata": {"generation": 2}},
                        ("TigeraStatus", "calico"): _status("True", None),  # left by AKS's operator: stale
                        ("TigeraStatus", "ippools"): _status("True", 1)}  # an older generation: stale
    ctx: Any = Ctx(kube=None)  # type: ignore[arg-type]
    step = PlanStep(id="t", kind="wait-tigerastatus", params={"timeout_s": 0.2, "poll_s": 0.05})
    with pytest.raises(CheckFailed, match=r"within 0 s \(calico stale.*ippools stale"):
        wait_tigerastatus(ctx, step)
    FakeRest.objects[("TigeraStatus", "ippools")] = _status("True", 2)
    FakeRest.objects[("TigeraStatus", "calico")] = _status("False", None)
    ticks = iter(range(1000))

    def flip(seconds: float) -> bool:  # calico goes down, then Available (no observedGeneration): seen fresh
        if next(ticks) == 1:
            FakeRest.objects[("TigeraStatus", "calico")] = _status("True", None)
        return False

    ctx.sleep = flip
    assert wait_tigerastatus(ctx, step)["components"] == "calico, ippools"
    [note] = [e for e in ctx.journal.events if e["event"] == "report-note"]
    assert note["title"] == "Self-managed Calico" and "calico, ippools Available" in note["lines"][0]
