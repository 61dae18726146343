""""The equivalent command": the one function that renders an ``aks-netmig`` command line.

Contract: ``argv(verb, *positional, address=..., flags=...)`` is ``["aks-netmig", VERB..., POSITIONAL...,
ADDRESS FLAGS..., FLAGS...]``. Address flags come in ``netmig.connection.ADDRESS_KEYS`` order (``--sandbox``,
``--cluster``, ``--subscription``, ``--resource-group``, ``--name``, ``--arm-endpoint``, ``--ca-bundle``), only
those given. ``flags`` is ``(flag, value)`` pairs in order: None / False / empty leave the flag out, True is the bare
flag, a list or tuple repeats the flag per item, a float is written ``%g`` (``600``, ``0.5``), anything else
``str``. Render with ``shlex.join`` for a shell.

``ApplyLine`` is an apply's own command line as data (to rerun it, with a larger timeout, or the matching abort).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netmig.connection import ADDRESS_KEYS, Address
from netmig.stepkit.monitor import STALL_FLAGS

PROG = "aks-netmig"
TIMEOUT_FLAGS = STALL_FLAGS  # engine option -> apply flag (the three pauses of the reimage watch)


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def address_flags(address: Address | Mapping[str, Any] | None) -> list[str]:
    """The command-line flags of a cluster address (only those given)."""
    values = Address.of(address).as_dict() if address is not None else {}
    out: list[str] = []
    for key in ADDRESS_KEYS:
        if values.get(key):
            out += [f"--{key.replace('_', '-')}", str(values[key])]
    return out


def argv(verb: str | Iterable[str], *positional: Any, address: Address | Mapping[str, Any] | None = None,
         flags: Iterable[tuple[str, Any]] = ()) -> list[str]:
    """An ``aks-netmig`` command line (see the module contract)."""
    cmd = [PROG, *([verb] if isinstance(verb, str) else verb), *(str(p) for p in positional)]
    cmd += address_flags(address)
    for flag, value in flags:
        if value is None or value is False or (isinstance(value, (list, tuple)) and not value):
            continue
        if value is True:
            cmd.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                cmd += [flag, _value(item)]
        else:
            cmd += [flag, _value(value)]
    return cmd


def plan_argv(kind: str, out: Path | str, address: Address | Mapping[str, Any] | None, *,
              accept: Iterable[str] = (), sets: Iterable[str] = (), pod_cidr: str | None = None,
              allow_fallback: bool = False) -> list[str]:
    """The ``aks-netmig plan`` line that makes this plan (recorded in it: the exact command to plan again)."""
    return argv("plan", address=address, flags=[("--migration", kind), ("--out", out), ("--accept", tuple(accept)),
                                                 ("--set", tuple(sets)), ("--pod-cidr", pod_cidr),
                                                 ("--allow-fallback", allow_fallback)])


@dataclass(frozen=True)
class ApplyLine:
    """An ``aks-netmig apply`` command line: address, run folder, approval, orchestrator, timeouts as given."""

    plan_path: Path | str
    address: Address = field(default_factory=Address)
    run_dir: Path | None = None
    yes: bool = False
    prefect: bool | None = None
    timeouts: Mapping[str, float | None] = field(default_factory=dict)  # engine option -> seconds

    def argv(self) -> list[str]:
        return argv("apply", self.plan_path, address=self.address, flags=[
            ("--run-dir", self.run_dir), ("--yes", self.yes), ("--prefect", self.prefect is True),
            ("--no-prefect", self.prefect is False),
            *((TIMEOUT_FLAGS[k], v) for k, v in self.timeouts.items())])

    def with_timeout(self, option: str, seconds: float) -> ApplyLine:
        """This line with one timeout set (placed last, as a user would add it)."""
        rest = {k: v for k, v in self.timeouts.items() if k != option}
        return replace(self, timeouts={**rest, option: seconds})

    def abort_argv(self) -> list[str]:
        """``aks-netmig abort PLAN [address] [--run-dir D] --yes`` for this apply."""
        return argv("abort", self.plan_path, address=self.address, flags=[("--run-dir", self.run_dir),
                                                                           ("--yes", True)])
