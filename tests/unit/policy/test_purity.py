"""netmig.policy is pure: no I/O, no cluster/cloud/orchestration imports."""

from __future__ import annotations

import ast
from pathlib import Path

import netmig.policy

FORBIDDEN_IMPORTS = ("kubernetes", "azure", "prefect", "questionary", "netmig.kube", "netmig.azure", "os",
                     "pathlib", "subprocess", "socket", "yaml")
FORBIDDEN_CALLS = ("open", "input", "print")


def test_policy_package_does_no_io() -> None:
    root = Path(netmig.policy.__file__).parent
    for f in root.glob("*.py"):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                mods = []
            for m in mods:
                assert not any(m == x or m.startswith(x + ".") for x in FORBIDDEN_IMPORTS), f"{f.name} imports {m}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{f.name} calls {node.func.id}()"
