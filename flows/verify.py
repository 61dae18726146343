"""Prefect flow: connectivity verification (thin orchestration over tasks.verify)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from pydantic import BaseModel, Field

from tasks.verify import compare_snapshots, seed_demo, take_snapshot


class VerifyParams(BaseModel):
    """Flow parameters (rendered as a form in the Prefect UI). ``before`` set: take ``out`` as the after snapshot
    (re-probing ``before``'s cells) and compare."""

    out: str = Field(..., title="Snapshot file", description="Where to write the snapshot (a path on the worker).")
    sandbox: str | None = Field(default=None, title="Sandbox folder",
                                description="A sandbox folder (aks-netmig sandbox start --dir DIR); or give a "
                                            "kubeconfig.")
    kubeconfig: str | None = Field(default=None, title="Kubeconfig",
                                   description="A kubeconfig file for the cluster (no ARM needed).")
    engine: str | None = Field(default=None, title="Expectation engine",
                               description="spec, npm, cilium or calico. Empty: the cluster's own.")
    before: str | None = Field(default=None, title="Baseline snapshot",
                               description="An earlier snapshot: its cells are probed again and compared with the "
                                           "new one.")
    target: str | None = Field(default=None, title="Target engine",
                               description="The engine the cluster moves to (npm, cilium, calico): every cell "
                                           "predicted to change is probed.")
    budget_minutes: float | None = Field(default=10.0, gt=0, title="Probing budget (minutes)",
                                         description="Predicted cells always; the stable ones are sampled "
                                                     "(stratified) to fit. Empty: no budget, every cell.")
    seed_demo: bool = Field(default=False, title="Run the seed demo first",
                            description="The seed article's demo (server, client, demo-policy) before the snapshot.")


@flow(name="netmig-verify")
def verify(params: VerifyParams) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if params.seed_demo:
        result["seed_demo"] = seed_demo(sandbox=params.sandbox, kubeconfig=params.kubeconfig)
    result["snapshot"] = take_snapshot(params.out, sandbox=params.sandbox, kubeconfig=params.kubeconfig,
                                       engine=params.engine, baseline=params.before, target=params.target,
                                       budget_s=None if params.budget_minutes is None
                                       else params.budget_minutes * 60)
    if params.before:
        result["compare"] = compare_snapshots(params.before, params.out)
    return result
