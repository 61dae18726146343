"""Moved to ``netmig.stepkit.context`` (the step runtime, below checks and steps); this re-export keeps the callers
above the engine (cli, flows, tasks) working until they import it from there."""

from netmig.stepkit.context import (  # noqa: F401
    RUN_LOCK,
    Options,
    ProgressSink,
    StepContext,
    never_approve,
)
