"""Moved to ``netmig.stepkit.variants`` (the step runtime, below checks and steps); this re-export keeps the callers
above the engine (cli, flows, tasks) working until they import it from there."""

from netmig.stepkit.variants import (  # noqa: F401
    KEY,
    SwitchVariant,
    _switched,
    active,
    not_taken_reason,
    path_of,
    path_steps,
    previous_change,
    replan_command,
    skip_reason,
    step_active,
    switch,
    switch_steps,
)
