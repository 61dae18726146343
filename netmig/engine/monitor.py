"""Moved to ``netmig.stepkit.monitor`` (the step runtime, below checks and steps); this re-export keeps the callers
above the engine (cli, flows, tasks) working until they import it from there."""

from netmig.stepkit.monitor import (  # noqa: F401
    POLICY_LABEL,
    POOL_LABEL,
    STALL_FLAGS,
    STALL_OPTIONS,
    Obj,
    PdbBlock,
    PoolProgress,
    ReimageMonitor,
    Stall,
    Stalled,
    blocking_pdbs,
    is_ready,
)
