"""Prefect flow: connectivity verification (thin orchestration over tasks.verify)."""

from __future__ import annotations

from typing import Any

from prefect import flow
from pydantic import BaseModel

from tasks.verify import compare_snapshots, seed_demo, take_snapshot


class VerifyParams(BaseModel):
    """Flow parameters (rendered as a form in the Prefect UI). ``before`` set: take ``out`` as the after snapshot
    (re-probing ``before``'s cells) and compare."""

    out: str
    sandbox: str | None = None
    kubeconfig: str | None = None
    engine: str | None = None
    before: str | None = None
    seed_demo: bool = False


@flow(name="netmig-verify")
def verify(params: VerifyParams) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if params.seed_demo:
        result["seed_demo"] = seed_demo(sandbox=params.sandbox, kubeconfig=params.kubeconfig)
    result["snapshot"] = take_snapshot(params.out, sandbox=params.sandbox, kubeconfig=params.kubeconfig,
                                       engine=params.engine, baseline=params.before)
    if params.before:
        result["compare"] = compare_snapshots(params.before, params.out)
    return result
