"""Moved to ``netmig.steps.report`` (the report step renders the report); this re-export keeps the callers above
the engine (cli, flows, tasks) working until they import it from there."""

from netmig.steps.report import reimage_summaries, render  # noqa: F401
