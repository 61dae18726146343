"""Without the ``[sandbox]`` extra: the commands that start a sandbox say in one line how to install it (exit 2);
any other failure to import the sandbox is not dressed up as a missing extra; stop needs no extra.

Each case runs ``aks-netmig`` in a fresh interpreter in which some modules are absent (``sys.modules[name] = None``:
what Python itself answers for a module that is not installed, ``find_spec`` included). The real install without
the extra is ``tests/e2e/test_install_extras.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netmig_sandbox.runtime import Sandbox, SandboxError

LAUNCH = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["aks-netmig", *sys.argv[2:]]
from netmig.cli.main import main
main()
"""
EXTRA_LINE = "install the sandbox extra: pip install 'aks-netmig[sandbox]'"


def run_without(absent: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LAUNCH, absent, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("sandbox", "start", "--dir", "{tmp}/sb", "--scenario", "npm"),
    ("sandbox", "start", "--dir", "{tmp}/sb", "--scenario", "npm", "--detach"),
    ("demo", "--no-prefect"),
    ("verify", "seed-demo"),
    ("verify", "--scenario", "seed-demo"),
])
def test_starting_a_sandbox_without_the_extra_is_one_line_naming_it(tmp_path: Path, args: tuple[str, ...]) -> None:
    out = run_without("trustme", *(a.format(tmp=tmp_path) for a in args))
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [
        "error: the embedded sandbox needs the Python package trustme, which is not installed; " + EXTRA_LINE]
    assert "Traceback" not in out.stdout + out.stderr
    assert not (tmp_path / "sb").exists()  # checked before anything else


def test_both_missing_modules_are_named() -> None:
    out = run_without("aiohttp,trustme", "demo")
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "error: the embedded sandbox needs the Python packages aiohttp and trustme, which are not installed; "
        + EXTRA_LINE]


def test_another_import_failure_is_not_reported_as_a_missing_extra(tmp_path: Path) -> None:
    """trustme is installed but cannot be imported (its own dependency is gone): a broken install, shown as the
    error it is, never as 'install the extra'."""
    out = run_without("cryptography", "sandbox", "start", "--dir", str(tmp_path / "sb"), "--scenario", "npm")
    assert out.returncode == 1
    assert "pip install" not in out.stderr
    assert "ModuleNotFoundError" in out.stderr and "cryptography" in out.stderr
    assert out.stderr.splitlines()[-1].startswith("error: unexpected ModuleNotFoundError")


def test_stop_needs_no_extra(tmp_path: Path) -> None:
    out = run_without("aiohttp,trustme", "sandbox", "stop", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"no sandbox was running in {tmp_path}"


@pytest.mark.parametrize("pace", [0.0, -1.0, float("nan"), float("inf")])
def test_the_sandbox_pace_is_a_positive_number_of_seconds(tmp_path: Path, pace: float) -> None:
    with pytest.raises(SandboxError, match="poll_seconds must be a positive number of seconds"):
        Sandbox("npm", tmp_path, poll_seconds=pace)
