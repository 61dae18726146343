"""Moved to ``netmig.stepkit.testhooks`` (the step runtime, below checks and steps); this re-export keeps the callers
above the engine (cli, flows, tasks) working until they import it from there."""

from netmig.stepkit.testhooks import (  # noqa: F401
    ENV,
    KILL_ENV,
    PAUSE_ENV,
    _listed,
    checkpoint,
    kill_point,
)
