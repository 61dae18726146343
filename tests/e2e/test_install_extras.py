"""``pip install .`` without extras, in a fresh virtualenv: the product works, the sandbox says how to get it.

Facts this test is built on:
- The sandbox's own dependencies (``netmig_sandbox.REQUIRES``: aiohttp, trustme) come with the ``[sandbox]`` extra.
- The Kubernetes Python client requires aiohttp itself since release 36.0.0 (its METADATA: 35.0.0 has no aiohttp,
  36.0.0 ``aiohttp<4.0.0,>=3.9.0``, 37.0.0 ``aiohttp<4.0.0,>=3.14.3`` and ``aiohttp-retry``), and aks-netmig needs
  ``kubernetes>=31`` (37 here). So a plain install does have aiohttp, but only as kubernetes' dependency: the test
  asserts that aks-netmig itself does not require it, and that trustme is absent.

The checkout's sources are copied to a temporary folder first (the working tree as it is, committed or not): pip
builds a non-editable install in the source folder, and its ``build/`` and ``*.egg-info`` must not land in the
checkout. pip's own configuration and cache are used (a warm cache: about a minute).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import netmig_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCES = (".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".netmig", ".mypy_cache",
               ".ruff_cache", ".pytest_cache", ".hypothesis", "runs", "tests", "bench")

# run in the installed copy: every product module imports, every command's --help works, the sandbox's package
# data is found by importlib.resources in site-packages
CHECK_INSTALLED = """
import importlib, importlib.resources, json, pkgutil, sys
from click.testing import CliRunner
failed = {}
for top in ("netmig", "flows", "tasks"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        try:
            importlib.import_module(info.name)
        except Exception as e:
            failed[info.name] = repr(e)
from netmig.cli.main import cli
helps = {}
for name, command in sorted(cli.commands.items()):
    result = CliRunner().invoke(cli, [name, "--help"])
    helps[name] = result.exit_code
    for sub in sorted(getattr(command, "commands", {}) or {}):
        helps[name + " " + sub] = CliRunner().invoke(cli, [name, sub, "--help"]).exit_code
import netmig_sandbox
files = importlib.resources.files("netmig_sandbox")
print(json.dumps({
    "failed_imports": failed,
    "helps": helps,
    "sandbox_file": netmig_sandbox.__file__,
    "scenarios": sorted(p.name for p in files.joinpath("scenarios").iterdir() if p.name.endswith(".yaml")),
    "manifests": sorted(p.name for p in files.joinpath("manifests").iterdir() if p.name.endswith(".yaml")),
    "missing": netmig_sandbox.missing_requirements(),
}))
"""


def _run(*cmd: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run outside the checkout and without PYTHONPATH, so ``python -c`` imports the installed copy only."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=tempfile.gettempdir())


def _pip_show(venv: Path, name: str) -> dict[str, str]:
    out = _run(venv / "bin" / "python", "-m", "pip", "show", name)
    if out.returncode != 0:
        return {}
    return dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)


def _names(field: str) -> set[str]:
    return {n.strip().lower().replace("_", "-") for n in field.split(",") if n.strip()}


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with ``pip install .`` (no extras, non-editable) of this checkout."""
    base = tmp_path_factory.mktemp("plain-install")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCES), symlinks=True)
    venv = base / "venv"
    made = _run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    installed = _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", src, timeout=1100)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def test_the_plain_install_has_trustme_absent_and_aiohttp_only_for_kubernetes(plain_install: Path) -> None:
    assert _pip_show(plain_install, "trustme") == {}
    ours = _pip_show(plain_install, "aks-netmig")
    assert ours, "aks-netmig is not installed"
    assert not _names(ours["Requires"]) & {"aiohttp", "trustme"}
    aiohttp = _pip_show(plain_install, "aiohttp")
    if aiohttp:  # kubernetes >= 36 requires it (see the module docstring)
        assert "kubernetes" in _names(aiohttp["Required-by"])
        assert "aks-netmig" not in _names(aiohttp["Required-by"])


def test_the_product_works_and_the_sandbox_data_is_installed(plain_install: Path) -> None:
    out = _run(plain_install / "bin" / "python", "-c", CHECK_INSTALLED, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["failed_imports"] == {}
    assert facts["helps"] and set(facts["helps"].values()) == {0}, facts["helps"]
    assert Path(facts["sandbox_file"]).is_relative_to(plain_install)  # the installed copy, not this checkout
    assert facts["scenarios"] == sorted(p.name for p in (ROOT / "netmig_sandbox" / "scenarios").glob("*.yaml"))
    assert facts["manifests"] == sorted(p.name for p in (ROOT / "netmig_sandbox" / "manifests").glob("*.yaml"))
    assert "trustme" in facts["missing"] and set(facts["missing"]) <= set(netmig_sandbox.REQUIRES)


def test_help_works_and_sandbox_start_names_the_extra(plain_install: Path, tmp_path: Path) -> None:
    exe = plain_install / "bin" / "aks-netmig"
    helped = _run(exe, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "Usage: aks-netmig" in helped.stdout
    started = _run(exe, "sandbox", "start", "--dir", tmp_path / "sb", "--scenario", "npm")
    assert started.returncode == 2
    assert started.stdout == ""
    lines = started.stderr.splitlines()
    assert len(lines) == 1, started.stderr
    assert lines[0].startswith("error: the embedded sandbox needs the Python package") and "trustme" in lines[0]
    assert lines[0].endswith("; install the sandbox extra: pip install 'aks-netmig[sandbox]'")
    assert not (tmp_path / "sb").exists()
