"""``managedClusters/{n}/runCommand``: AKS runs a command in a pod with ``kubectl`` against the cluster; the
sandbox simulates that ``kubectl`` against its own Kubernetes store.

Contract:
- ``run(ctx, command) -> (exit_code, logs)``: ``command`` is a shell-like line of one or more ``kubectl``
  invocations joined by ``&&`` / ``;``. Simulated: ``kubectl get RESOURCE[,RESOURCE...] [NAME...] [-A |
  --all-namespaces] [-n NS] [-o wide|name] [-l SELECTOR] [--no-headers]`` printed like kubectl's tables (the
  server-side printing of ``kube.tables``: NAMESPACE first with ``-A``, wide-only columns with ``-o wide``,
  ``No resources found in NS namespace.``), ``kubectl version`` and ``kubectl cluster-info``. Anything else
  exits 1 with ``error: ...`` naming what the sandbox simulates.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from netmig_sandbox.kube import discovery, tables
from netmig_sandbox.kube.store import ApiError, ResourceType

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

Obj = dict[str, Any]
SUPPORTED = "the sandbox simulates `kubectl get`, `kubectl version` and `kubectl cluster-info` in runCommand"


def _find_type(ctx: SandboxContext, word: str) -> ResourceType | None:
    w = word.lower()
    group = ""
    if "." in w:
        w, _, group = w.partition(".")
    for rt in ctx.store.types.values():
        if group and rt.group != group:
            continue
        if w in (rt.plural, rt.singular, rt.kind.lower(), *rt.short_names):
            return rt
    return None


def _render(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() + "\n" for r in rows)


def _cell(v: Any) -> str:
    if v is None:
        return "<none>"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _get(ctx: SandboxContext, args: list[str]) -> tuple[int, str]:
    all_ns, namespace, output, selector, headers = False, "default", "", None, True
    words: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-A", "--all-namespaces"):
            all_ns = True
        elif a in ("-n", "--namespace") and i + 1 < len(args):
            namespace, i = args[i + 1], i + 1
        elif a.startswith("--namespace="):
            namespace = a.split("=", 1)[1]
        elif a in ("-o", "--output") and i + 1 < len(args):
            output, i = args[i + 1], i + 1
        elif a.startswith("-o") and len(a) > 2:
            output = a[2:].lstrip("=")
        elif a.startswith("--output="):
            output = a.split("=", 1)[1]
        elif a in ("-l", "--selector") and i + 1 < len(args):
            selector, i = args[i + 1], i + 1
        elif a == "--no-headers":
            headers = False
        elif a.startswith("-"):
            return 1, f"error: unknown flag: {a} ({SUPPORTED})\n"
        else:
            words.append(a)
        i += 1
    if not words:
        return 1, "error: You must specify the type of resource to get.\n"
    out = ""
    names = words[1:]
    for word in words[0].split(","):
        rt = _find_type(ctx, word)
        if rt is None:
            return 1, f'error: the server doesn\'t have a resource type "{word}"\n'
        ns = None if (all_ns or not rt.namespaced) else namespace
        try:
            objs = ctx.store.list(rt.key, ns, selector, None)
        except ValueError as e:
            return 1, f"error: {e}\n"
        if names:
            missing = [n for n in names if n not in {o["metadata"]["name"] for o in objs}]
            if missing:
                return 1, f'Error from server (NotFound): {rt.plural} "{missing[0]}" not found\n'
            objs = [o for o in objs if o["metadata"]["name"] in names]
        if not objs:
            out += ("No resources found\n" if ns is None else f"No resources found in {ns} namespace.\n")
            continue
        if output == "name":
            prefix = rt.kind.lower() + (f".{rt.group}" if rt.group else "")
            out += "".join(f"{prefix}/{o['metadata']['name']}\n" for o in objs)
            continue
        table = tables.build_table(ctx.store, rt, objs, "None", "", rt.version)
        cols = [i for i, c in enumerate(table["columnDefinitions"]) if output == "wide" or c.get("priority", 0) == 0]
        rows = [[table["columnDefinitions"][i]["name"].upper() for i in cols]] if headers else []
        for obj, row in zip(objs, table["rows"], strict=True):
            cells = [_cell(row["cells"][i]) for i in cols]
            rows.append(([obj["metadata"].get("namespace", "")] if all_ns and rt.namespaced else []) + cells)
        if headers and all_ns and rt.namespaced:
            rows[0] = ["NAMESPACE", *rows[0]]
        out += _render(rows) if rows else ""
    return 0, out


def _one(ctx: SandboxContext, argv: list[str]) -> tuple[int, str]:
    if not argv or argv[0].rsplit("/", 1)[-1] != "kubectl":
        return 127, f"/bin/sh: {argv[0] if argv else ''}: not found ({SUPPORTED})\n"
    args = argv[1:]
    if args[:1] == ["get"]:
        return _get(ctx, args[1:])
    if args[:1] == ["version"]:
        v = discovery.version_info(discovery.cluster_version(ctx))["gitVersion"]
        return 0, f"Client Version: {v}\nKustomize Version: v5.4.2\nServer Version: {v}\n"
    if args[:1] == ["cluster-info"]:
        return 0, (f"Kubernetes control plane is running at {ctx.kube_server}\nCoreDNS is running at "
                   f"{ctx.kube_server}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy\n")
    return 1, f"error: {SUPPORTED}; got: {shlex.join(argv)}\n"


def run(ctx: SandboxContext, command: str) -> tuple[int, str]:
    """Run ``command`` (see the module contract): its exit code and combined output."""
    try:
        words = shlex.split(command)
    except ValueError as e:
        return 2, f"/bin/sh: syntax error: {e}\n"
    logs, code = "", 0
    argv: list[str] = []
    for w in [*words, ";"]:
        if w in (";", "&&"):
            if argv:
                try:
                    code, out = _one(ctx, argv)
                except ApiError as e:
                    code, out = 1, f"Error from server ({e.reason}): {e.message}\n"
                logs += out
                if w == "&&" and code != 0:
                    break
            argv = []
        else:
            argv.append(w)
    return code, logs
