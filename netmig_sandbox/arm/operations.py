"""Running long-running operations (LROs) of the ARM endpoint and aborting them.

Contract:
- ``start(ctx, kind, target, body, method, path, pools)`` registers an InProgress operation in ``ctx.arm``
  (409 OperationNotAllowed if one runs), takes a pending ``lro`` fault (``kind`` fail|cancel) for it, and spawns
  ``run(ctx, op, body)``: ``body(op)`` is awaited; it ends the operation Succeeded, or Failed on
  ``OperationFailed(code, message)``, or Canceled on ``OperationCanceled``; its cluster/pools follow.
- ``checkpoint(op, nodes_done)``: bodies call it as work progresses; an injected ``lro`` fault fires once
  ``nodes_done >= fault.params.get("after_nodes", 1)`` (or, for bodies that never call it, at the end).
- ``abort(ctx, target)``: target ``"cluster"`` or a pool name. The in-flight operation goes Canceling (cluster /
  pools too), its task is cancelled where it is, and after ``cancel_seconds`` it is Canceled. Returns the abort's
  own operation (Succeeded once the cancellation is complete). Nothing to abort -> ``ArmError(409,
  "NoOngoingOperationToAbort")``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from netmig_sandbox.arm.state import ArmError, ArmState, Operation
from netmig_sandbox.context import SandboxContext

Body = Callable[[Operation], Awaitable[None]]


class OperationFailed(Exception):
    """Ends the running operation Failed with ``{"code", "message"}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OperationCanceled(Exception):
    """Ends the running operation Canceled (an injected ``lro`` cancel fault)."""


def _state(ctx: SandboxContext) -> ArmState:
    st = ctx.arm
    assert isinstance(st, ArmState), "ctx.arm must be an ArmState"
    return st


def take_lro_fault(ctx: SandboxContext, method: str, path: str) -> dict[str, Any] | None:
    """Consume a pending ``lro`` fault (kind fail or cancel) for an operation started by ``method path``."""
    for kind in ("fail", "cancel"):
        f = ctx.faults.take("lro", method, path, kind=kind)
        if f is not None:
            return {"kind": kind, "code": f.code, "message": f.message,
                    "after_nodes": int(f.params.get("after_nodes", 1))}
    return None


def checkpoint(op: Operation, nodes_done: int, final: bool = False) -> None:
    """Fire the operation's injected fault once enough nodes are done (or at the end when ``final``)."""
    inj = op.injected
    if inj is None or inj.get("fired"):
        return
    if final or nodes_done >= int(inj.get("after_nodes", 1)):
        inj["fired"] = True
        if inj["kind"] == "cancel":
            raise OperationCanceled()
        raise OperationFailed(str(inj["code"]), str(inj["message"]))


def start(ctx: SandboxContext, kind: str, target: str, body: Body, *, method: str, path: str,
          pools: list[str] | None = None) -> Operation:
    """Register and spawn an operation (see the module docstring)."""
    st = _state(ctx)
    op = st.start_operation(kind, target, pools)
    op.injected = take_lro_fault(ctx, method, path)
    op.task = ctx.spawn(run(ctx, op, body))
    return op


async def run(ctx: SandboxContext, op: Operation, body: Body) -> None:
    st = _state(ctx)
    try:
        await body(op)
        checkpoint(op, 0, final=True)
    except OperationFailed as e:
        st.finish_operation(op, "Failed", {"code": e.code, "message": e.message})
    except OperationCanceled:
        st.finish_operation(op, "Canceled", {"code": "OperationCanceled",
                                             "message": "The operation was canceled."})
    except asyncio.CancelledError:
        # an abort completes the cancellation itself (Canceling -> Canceled); a sandbox stop just marks it
        if op.status != "Canceling":
            st.finish_operation(op, "Canceled", {"code": "OperationCanceled",
                                                 "message": "The operation was canceled."})
        raise
    except Exception as e:  # a simulator bug must not leave the operation InProgress forever
        st.finish_operation(op, "Failed", {"code": "InternalOperationError",
                                           "message": f"sandbox: {e.__class__.__name__}: {e}"})
        raise
    else:
        st.finish_operation(op, "Succeeded")


def abort(ctx: SandboxContext, target: str) -> Operation:
    """Abort the in-flight operation on ``target`` ("cluster" or a pool name); see the module docstring."""
    st = _state(ctx)
    op = st.in_progress()
    if op is None or op.status == "Canceling" or (
        target != "cluster" and op.target != target and target not in op.pools
    ):
        latest = st.operations.get(st.latest_op_id or "")
        last = f" The latest operation is {latest.status}." if latest else ""
        what = "managed cluster" if target == "cluster" else f"agent pool '{target}'"
        raise ArmError(409, "NoOngoingOperationToAbort",
                       f"There is no ongoing operation to abort on the {what}.{last}")
    op.status = "Canceling"
    if op.target == "cluster" and st.cluster is not None:
        st.set_cluster_state("Canceling")
    for name in op.pools:
        if name in st.pools:
            st.set_pool_state(name, "Canceling")
    aborter = Operation(id=f"{op.id}-abort", kind="abort", target=target)
    st.operations[aborter.id] = aborter
    aborter.task = ctx.spawn(_finish_abort(ctx, op, aborter))
    return aborter


async def _finish_abort(ctx: SandboxContext, op: Operation, aborter: Operation) -> None:
    st = _state(ctx)
    task = op.task
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task])
    await ctx.clock.sleep(float(st.behaviour.get("cancel_seconds", 5)))
    if not op.done:
        st.finish_operation(op, "Canceled", {"code": "OperationCanceled",
                                             "message": "The operation was canceled by an abort request."})
    st.finish_operation(aborter, "Succeeded")
