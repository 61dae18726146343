"""The dependency rules of the architecture, checked on the source (the import-linter idea, without the tool)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "netmig"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _core_files() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if p.relative_to(CORE).parts[0] not in ("cli", "sandbox")]


def _importers(prefix: str, files: list[Path]) -> list[str]:
    return sorted(
        str(p.relative_to(ROOT)) for p in files
        if any(m == prefix or m.startswith(prefix + ".") for m in _imports(p))
    )


def test_core_library_never_imports_prefect_or_questionary() -> None:
    files = _core_files()
    assert files, "the core library has no files?"
    assert _importers("prefect", files) == []
    assert _importers("questionary", files) == []


def test_only_netmig_azure_imports_azure_sdks() -> None:
    files = [p for p in CORE.rglob("*.py") if p.relative_to(CORE).parts[0] != "sandbox"]
    offenders = [f for f in _importers("azure", files) if not f.startswith("netmig/azure/")]
    assert offenders == []


def test_only_netmig_kube_imports_the_kubernetes_client() -> None:
    files = [p for p in CORE.rglob("*.py") if p.relative_to(CORE).parts[0] != "sandbox"]
    offenders = [f for f in _importers("kubernetes", files) if not f.startswith("netmig/kube/")]
    assert offenders == []


def test_product_code_never_imports_the_sandbox() -> None:
    files = [p for p in CORE.rglob("*.py") if p.relative_to(CORE).parts[0] not in ("sandbox", "cli")]
    files += list((ROOT / "flows").rglob("*.py")) + list((ROOT / "tasks").rglob("*.py"))
    assert _importers("netmig_sandbox", files) == []


def test_sandbox_does_not_borrow_the_product_policy_engine() -> None:
    """The sandbox's dataplane is an independent implementation: it is what the product's predictions are checked
    against, so it must not share the policy engine's code."""
    files = list((ROOT / "netmig_sandbox").rglob("*.py"))
    assert _importers("netmig.policy", files) == []
