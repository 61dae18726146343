"""The sandbox's dependency rules, checked on the source: its packages form an order (``LAYERS``, data) that every
import goes down, no import cycles between its modules, nothing of the product, and the commands that need no
sandbox extra (stop, fault) reach none of its optional dependencies.

Every import counts: module level, function-local and ``if TYPE_CHECKING:`` ones (a cycle hidden in a function body
or a type hint is still two modules that cannot be understood, or moved, one without the other).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import netmig_sandbox

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "netmig_sandbox"
PRODUCT = ("netmig", "flows", "tasks")

# The sandbox's packages, lowest first (a package is ``netmig_sandbox.X``: a subpackage or a top-level module;
# ``netmig_sandbox`` itself is its ``__init__``). Inside a package anything goes; across packages an import must go
# to a LOWER layer (packages of one layer do not import each other). The API server (kube) reads the sandbox that
# hosts it through ``kube.host``'s Protocols, which ``context.SandboxContext`` and ``sim.processes.SimProcesses``
# satisfy; the data the simulators and the scenario builder share lives in ``sim.aks_objects``.
LAYERS: list[set[str]] = [
    {"netmig_sandbox", "netmig_sandbox.clock", "netmig_sandbox.faults"},  # base: no sandbox imports
    {"netmig_sandbox.kube"},  # the Kubernetes API server and its object store
    {"netmig_sandbox.context"},  # the shared state of one running sandbox (holds the store)
    {"netmig_sandbox.sim"},  # controllers, kubelet, dataplane, processes, the AKS-installed objects
    {"netmig_sandbox.scenarios"},  # scenario files and the builder that materialises them
    {"netmig_sandbox.arm"},  # the ARM API server
    {"netmig_sandbox.runtime", "netmig_sandbox.control"},  # start a sandbox / talk to a running one
    {"netmig_sandbox.fleet"},  # many sandboxes behind one ARM endpoint
    {"netmig_sandbox.serve"},  # the process entry point
]


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the sandbox package (packages by their ``__init__``)."""
    out: dict[str, Path] = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported_names(name: str, path: Path) -> Iterator[str]:
    """Every dotted name the module imports anywhere in its body (relative imports resolved; for ``from X import
    Y`` both ``X.Y`` and ``X``, so that importing a submodule counts as importing it)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{a.name}" for a in node.names)


def _internal(target: str) -> str | None:
    """The sandbox module ``target`` names (a name inside a module maps to that module), or None."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps = {m for m in map(_internal, _imported_names(name, path)) if m is not None}
        deps.discard(name)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_scan_sees_the_sandbox_and_its_imports() -> None:
    graph = _graph()
    assert len(graph) > 50
    assert "netmig_sandbox.sim.dataplane" in graph["netmig_sandbox.sim.connect"]
    assert "netmig_sandbox.sim.controllers" in graph["netmig_sandbox.sim.kubelet"]


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import between two packages that does not go down ``LAYERS``."""
    return sorted(f"{src} imports {dst}" for src, deps in graph.items() for dst in deps
                  if _package(src) != _package(dst) and LAYER_OF[_package(dst)] >= LAYER_OF[_package(src)])


def test_every_sandbox_package_has_a_layer() -> None:
    packages = {_package(m) for m in MODULES}
    assert sorted(packages - set(LAYER_OF)) == []
    assert sorted(set(LAYER_OF) - packages) == [], "LAYERS names packages that are gone"


def test_every_import_goes_down_the_sandbox_layers() -> None:
    """Module level, function-local and ``TYPE_CHECKING`` imports alike (see the module docstring)."""
    assert _upward(_graph()) == []


def test_the_layer_check_sees_an_upward_import() -> None:
    graph = {"netmig_sandbox.kube.server": {"netmig_sandbox.context", "netmig_sandbox.kube.store"},
             "netmig_sandbox.sim.tigera": {"netmig_sandbox.kube.store"},
             "netmig_sandbox.arm.server": {"netmig_sandbox.runtime"}}
    assert _upward(graph) == ["netmig_sandbox.arm.server imports netmig_sandbox.runtime",
                              "netmig_sandbox.kube.server imports netmig_sandbox.context"]


def test_no_import_cycles_inside_the_sandbox() -> None:
    assert _cycles(_graph()) == []


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    offenders = sorted(
        f"{name} imports {target}" for name, path in MODULES.items() for target in _imported_names(name, path)
        if target.split(".")[0] in PRODUCT
    )
    assert offenders == []


def _reach(start: str) -> set[str]:
    """The sandbox modules ``start`` imports, directly or not (itself included)."""
    graph, seen, todo = _graph(), {start}, [start]
    while todo:
        for dep in graph[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def test_stop_fault_and_scenario_checks_need_no_sandbox_extra() -> None:
    """``aks-netmig sandbox stop`` / ``fault`` (``control``) and loading a scenario run without the extra."""
    reached = _reach("netmig_sandbox") | _reach("netmig_sandbox.control") | _reach("netmig_sandbox.scenarios")
    assert "netmig_sandbox.runtime" not in reached
    optional = sorted(
        f"{name} imports {target}" for name in reached for target in _imported_names(name, MODULES[name])
        if target.split(".")[0] in netmig_sandbox.REQUIRES
    )
    assert optional == []


def test_requires_is_the_sandbox_extra_of_pyproject() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = sorted(req.split(">")[0].split("=")[0].split("[")[0].strip() for req in extra[netmig_sandbox.EXTRA])
    assert names == sorted(netmig_sandbox.REQUIRES)
    assert f"aks-netmig[{netmig_sandbox.EXTRA}]" in extra["dev"]
