"""The dependency rules of the architecture, checked on the source (the import-linter idea, without the tool).

The order of the layers is data (``LAYERS``, lowest first). A package is ``netmig.X`` (a subpackage or a top-level
module of netmig), ``netmig_sandbox.X``, ``flows`` or ``tasks``. Every import is read -- module-level and
function-local, absolute and relative -- and each one must stay inside its package or go DOWN the order. The package
graph has no cycles (strongly connected components), ``netmig.cli`` is imported only by netmig/cli, Prefect and
questionary only there too, the Azure SDKs only in netmig/azure, the Kubernetes client only in netmig/kube, and the
sandbox and the product do not import each other (except the CLI's ``sandbox`` / ``demo`` commands, lazily).

``PENDING`` lists known violations (empty: the layers hold); a listed one that no longer occurs fails too, so the
list cannot go stale.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "netmig"
SOURCES = ("netmig", "netmig_sandbox", "flows", "tasks")

# Lowest first. Packages of one layer may not import each other; a package may import any lower layer.
LAYERS: list[set[str]] = [
    {"netmig", "netmig.errors", "netmig.gcpause", "netmig.processes", "netmig.logs"},  # base utilities
    {"netmig.inputs", "netmig.yamlkube"},
    {"netmig.model"},  # plain typed values, no I/O
    # pure engines (policy, journey planner); backup format; the one change summary
    {"netmig.policy", "netmig.journey", "netmig.backups", "netmig.summary"},
    {"netmig.fleet"},  # pure fleet rules (scan assessment uses the journey planner; wave planning)
    {"netmig.connection"},  # how to reach a cluster (no SDK client)
    {"netmig.azure", "netmig.kube", "netmig.journal", "netmig.manifests"},  # gateways and records
    {"netmig.verify"},
    {"netmig.pictures"},  # matplotlib drawings of a run folder's snapshots and reimage timeline
    {"netmig.stepkit"},  # the step runtime: context, registry, test hooks, variants, reimage monitor
    {"netmig.checks"},
    {"netmig.steps"},
    {"netmig.engine"},  # plans, the runner, the catalog of what can run
    {"netmig.commands"},  # the typed command API
    {"tasks"},  # Prefect tasks call commands
    {"flows"},  # flows orchestrate tasks
    {"netmig.cli"},  # the CLI may start flows
]

# Known violations (importing file, imported module): none. A new one is fixed, not listed here.
PENDING: set[tuple[str, str]] = set()
# Known cycles between the sandbox's own packages: none.
PENDING_SANDBOX_CYCLES: list[list[str]] = []

SDKS = {"azure": "netmig/azure/", "kubernetes": "netmig/kube/"}
CLI_ONLY = ("prefect", "questionary")


@dataclass(frozen=True)
class Import:
    file: str  # relative to ROOT
    module: str  # the absolute module name imported (for ``from X import y``: X.y when that is a module, else X)
    local: bool  # inside a function (a lazy import)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _files() -> list[Path]:
    return sorted(p for d in SOURCES for p in (ROOT / d).rglob("*.py"))


MODULES = {_module_name(p) for p in _files()}


def _resolve(name: str) -> str:
    """The longest known module ``name`` starts with (or ``name`` for a third-party module)."""
    probe = name
    while probe not in MODULES and "." in probe:
        probe = probe.rsplit(".", 1)[0]
    return probe if probe in MODULES else name


def _imports(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    me = _module_name(path)
    base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    rel = str(path.relative_to(ROOT))
    local_nodes = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        local = id(node) in local_nodes
        if isinstance(node, ast.Import):
            for a in node.names:
                yield Import(rel, _resolve(a.name), local)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - (node.level - 1)]
                target = ".".join(parent + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                yield Import(rel, _resolve(f"{target}.{a.name}"), local)


IMPORTS = [i for p in _files() for i in _imports(p)]


def package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in ("netmig", "netmig_sandbox") else parts[0]


LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _ours(module: str) -> bool:
    return module.split(".")[0] in SOURCES


def _violations() -> set[tuple[str, str]]:
    out = set()
    for imp in IMPORTS:
        src, dst = package(_module_name(ROOT / imp.file)), package(imp.module)
        if src == dst or not _ours(imp.module) or "netmig_sandbox" in (src.split(".")[0], dst.split(".")[0]):
            continue
        if LAYER_OF[dst] >= LAYER_OF[src]:
            out.add((imp.file, imp.module))
    return out


def test_every_package_has_a_layer() -> None:
    product = {package(_module_name(p)) for p in _files() if not _module_name(p).startswith("netmig_sandbox")}
    assert sorted(product - set(LAYER_OF)) == []


def test_imports_only_go_down_the_layers() -> None:
    """Inside a package anything goes; across packages only to a lower layer (PENDING aside)."""
    found = _violations()
    assert sorted(found - PENDING) == [], "imports up or sideways across the layers"
    assert sorted(PENDING - found) == [], "PENDING lists violations that are gone: remove them"


def _sccs(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative enough for a few dozen packages)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.mark.parametrize("scope", ["product", "sandbox"])
def test_no_cycles_between_packages(scope: str) -> None:
    graph: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if (imp.file, imp.module) in PENDING or not _ours(imp.module):
            continue
        src, dst = package(_module_name(ROOT / imp.file)), package(imp.module)
        if src != dst and src.startswith("netmig_sandbox") == (scope == "sandbox"):
            graph.setdefault(src, set()).add(dst)
    cycles = sorted(sorted(c) for c in _sccs(graph) if len(c) > 1)
    assert cycles == (PENDING_SANDBOX_CYCLES if scope == "sandbox" else [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert sorted(map(sorted, _sccs({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}))) == [["a", "b", "c"], ["d"]]


def _importers(prefix: str, where: str = "") -> list[str]:
    return sorted({i.file for i in IMPORTS if (i.module == prefix or i.module.startswith(prefix + "."))
                   and i.file.startswith(where)})


def test_nothing_outside_netmig_cli_imports_the_cli() -> None:
    offenders = [f for f in _importers("netmig.cli") if not f.startswith("netmig/cli/")]
    assert sorted(set(offenders) - {f for f, m in PENDING if m.startswith("netmig.cli")}) == []


@pytest.mark.parametrize("lib", CLI_ONLY)
def test_the_core_library_never_imports_prefect_or_questionary(lib: str) -> None:
    assert [f for f in _importers(lib, "netmig/") if not f.startswith("netmig/cli/")] == []


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_only_the_gateway_package_imports_its_sdk(sdk: str) -> None:
    offenders = [f for f in _importers(sdk) if f.startswith(("netmig/", "flows/", "tasks/"))
                 and not f.startswith(SDKS[sdk])]
    assert offenders == []


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    assert [f"{i.file}: {i.module}" for i in IMPORTS if i.file.startswith("netmig_sandbox/")
            and package(i.module) in LAYER_OF] == []


def test_the_product_imports_the_sandbox_only_from_the_cli_lazily() -> None:
    """netmig (but the CLI's ``sandbox`` / ``demo`` commands, inside their functions), flows and tasks: nothing of
    netmig_sandbox."""
    uses = [i for i in IMPORTS if package(i.module).startswith("netmig_sandbox")
            and not i.file.startswith("netmig_sandbox/")]
    assert [f"{i.file}: {i.module}" for i in uses if not (i.file.startswith("netmig/cli/") and i.local)] == []


def test_sandbox_does_not_borrow_the_product_policy_engine() -> None:
    """The sandbox's dataplane is an independent implementation: it is what the product's predictions are checked
    against, so it must not share the policy engine's code."""
    assert _importers("netmig.policy", "netmig_sandbox/") == []


def test_the_parser_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    """The rules above read every kind of import: a function-local one and a relative one count too."""
    pkg = ROOT / "netmig" / "stepkit"
    found = {(i.module, i.local) for i in _imports(pkg / "context.py")}
    assert ("netmig.kube.gateway", True) in found  # inside ``StepContext.kube``
    assert ("netmig.model.plan", False) in found
    rel = [i for p in _files() for i in _imports(p) if i.file.startswith("netmig_sandbox/")]
    assert rel and all(not i.module.startswith(".") for i in rel)
