"""Prefect flow: connectivity verification (thin orchestration over tasks.verify)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from pydantic import BaseModel, Field

from flows.params import OptionalText
from tasks.verify import compare_snapshots, seed_demo, take_snapshot


class VerifyParams(BaseModel):
    """Flow parameters (rendered as a form in the Prefect UI). ``before`` set: take ``out`` as the after snapshot
    (re-probing ``before``'s cells) and compare. No field is optional-with-None (the form would show a
    'Property is type "None"' toggle): ``""`` means "not given", a budget of 0 "no budget"."""

    out: str = Field(..., title="Snapshot file", description="Where to write the snapshot (a path on the worker).")
    sandbox: OptionalText = Field(default="", title="Sandbox folder",
                                description="A sandbox folder (aks-netmig sandbox start --dir DIR); or give a "
                                            "kubeconfig.")
    kubeconfig: OptionalText = Field(default="", title="Kubeconfig",
                                   description="A kubeconfig file for the cluster (no ARM needed).")
    engine: OptionalText = Field(default="", title="Expectation engine",
                               description="spec, npm, cilium or calico. Empty: the cluster's own.")
    before: OptionalText = Field(default="", title="Baseline snapshot",
                               description="An earlier snapshot: its cells are probed again and compared with the "
                                           "new one.")
    target: OptionalText = Field(default="", title="Target engine",
                               description="The engine the cluster moves to (npm, cilium, calico): every cell "
                                           "predicted to change is probed.")
    budget_minutes: float = Field(default=10.0, ge=0, title="Probing budget (minutes)",
                                  description="Predicted cells always; the stable ones are sampled "
                                              "(stratified) to fit. 0: no budget, every cell.")
    seed_demo: bool = Field(default=False, title="Run the seed demo first",
                            description="The seed article's demo (server, client, demo-policy) before the snapshot.")


@flow(name="netmig-verify")
def verify(params: VerifyParams) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if params.seed_demo:
        result["seed_demo"] = seed_demo(sandbox=params.sandbox or None, kubeconfig=params.kubeconfig or None)
    result["snapshot"] = take_snapshot(params.out, sandbox=params.sandbox or None,
                                       kubeconfig=params.kubeconfig or None, engine=params.engine or None,
                                       baseline=params.before or None, target=params.target or None,
                                       budget_s=params.budget_minutes * 60 or None)
    if params.before:
        result["compare"] = compare_snapshots(params.before, params.out)
    return result
