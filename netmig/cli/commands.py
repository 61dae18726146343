"""The registry of top-level commands; each lives in its own module."""

from __future__ import annotations

import importlib

import click

# module name -> attribute; a module that is not there yet is skipped (commands land issue by issue)
_COMMANDS = [
    ("netmig.cli.sandbox_cmd", "sandbox"),
    ("netmig.cli.demo_cmd", "demo"),
    ("netmig.cli.policy_cmd", "policy"),
    ("netmig.cli.verify_cmd", "verify"),
    ("netmig.cli.plan_cmd", "plan"),
    ("netmig.cli.apply_cmd", "apply"),
    ("netmig.cli.status_cmd", "status"),
    ("netmig.cli.restore_cmd", "restore"),
    ("netmig.cli.preflight_cmd", "preflight"),
    ("netmig.cli.abort_cmd", "abort"),
    ("netmig.cli.permissions_cmd", "permissions"),
    ("netmig.cli.wizard", "wizard"),
    ("netmig.cli.journey_cmd", "journey"),
]


def all_commands() -> list[click.Command]:
    out = []
    for module, attr in _COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue
            raise
        out.append(getattr(mod, attr))
    return out
