"""``--help`` for every command: defaults shown, examples, and where the runbooks are.

Contract: ``decorate(group)`` walks the command tree once (at registration): every option with a default shows it
(``show_default``; flags and None defaults excepted), and every command gets an epilog with its ``EXAMPLES`` (when
there are some) and a pointer to the runbooks (``docs/runbooks/KIND.md``) and the README. Options must carry their
own help text (``tests/cli/test_help.py`` checks every one).
"""

from __future__ import annotations

import click

RUNBOOKS = ("Runbooks: docs/runbooks/<migration>.md (npm-to-cilium, calico-to-self-managed, kubenet-to-overlay, "
            "uninstall); overview: README.md; Prefect: docs/prefect.md.")

EXAMPLES: dict[str, list[str]] = {
    "demo": ["aks-netmig demo", "aks-netmig demo --migration calico-to-self-managed --keep-dir /tmp/demo"],
    "sandbox": ["aks-netmig sandbox start --scenario npm --dir /tmp/sb", "aks-netmig sandbox stop --dir /tmp/sb"],
    "wizard": ["aks-netmig wizard --sandbox /tmp/sb",
               "aks-netmig wizard --cluster /subscriptions/SUB/resourceGroups/RG/providers/"
               "Microsoft.ContainerService/managedClusters/NAME --migration npm-to-cilium --then print"],
    "preflight": ["aks-netmig preflight --sandbox /tmp/sb --migration npm-to-cilium",
                  "aks-netmig preflight --sandbox /tmp/sb --json | jq .change_summary"],
    "plan": ["aks-netmig plan --sandbox /tmp/sb --migration npm-to-cilium --out runs/aks-npm.yaml",
             "aks-netmig plan --sandbox /tmp/sb --accept policy-analysis --out runs/aks-npm.yaml"],
    "apply": ["aks-netmig apply runs/aks-npm.yaml --dry-run", "aks-netmig apply runs/aks-npm.yaml",
              "aks-netmig apply runs/aks-npm.yaml --yes --stall-timeout 3600"],
    "status": ["aks-netmig status runs/aks-npm.yaml", "aks-netmig status runs/aks-npm.yaml --json"],
    "abort": ["aks-netmig abort runs/aks-npm.yaml --yes"],
    "restore": ["aks-netmig restore runs/aks-npm.yaml"],
    "verify": ["aks-netmig verify snapshot --sandbox /tmp/sb --out before.json",
               "aks-netmig verify compare before.json after.json"],
    "permissions": ["aks-netmig permissions --migration npm-to-cilium --json > role.json",
                    "aks-netmig permissions --migration npm-to-cilium --read-only",
                    "aks-netmig permissions --fleet-scan --json > fleet-scan-role.json",
                    "aks-netmig permissions --fleet-scan --deep"],
    "policy": ["aks-netmig policy analyze --sandbox /tmp/sb --target cilium",
               "aks-netmig policy diff --sandbox /tmp/sb --source npm --target cilium"],
}


# Help for options that many commands share, by option name (a command's own help text always wins).
SHARED_HELP = {
    "--subscription": "Azure subscription id (with --resource-group and --name, instead of --cluster).",
    "--resource-group": "The cluster's resource group (with --subscription and --name).",
    "--name": "The cluster's name (with --subscription and --resource-group).",
    "--dir": "The sandbox's folder (its connection file, logs and state).",
    "--target": "Where the fault is injected: ARM, the Kubernetes API, long-running operations or a node.",
    "--code": "The error code the injected fault answers with.",
    "--message": "The error message the injected fault answers with.",
    "--timeout": "Seconds each probe waits for a connection.",
    "--json": "Print one JSON object instead of the text report (the command's docs list its keys).",
    "--junit": "Also write the result as JUnit XML to this file (for CI).",
    "--markdown": "Also write the result as Markdown to this file.",
    "--run-dir": "The plan's run folder (default: next to the plan file, PLAN.run).",
    "--cilium-version": "Cilium version the verdicts are computed for.",
}


def _epilog(path: str) -> str:
    lines = []
    examples = EXAMPLES.get(path) or EXAMPLES.get(path.split(" ", 1)[0])
    if examples:
        lines += ["\b", "Examples:", *(f"  {x}" for x in examples), ""]
    lines += [RUNBOOKS]
    return "\n".join(lines)


def decorate(command: click.Command, path: str = "") -> None:
    """Show defaults and add the examples/runbook epilog on ``command`` and everything under it."""
    for p in command.params:
        if isinstance(p, click.Option) and not p.help:
            p.help = next((SHARED_HELP[o] for o in p.opts if o in SHARED_HELP), None)
        if (isinstance(p, click.Option) and not p.is_flag and not p.required and p.show_default is None
                and isinstance(p.default, (str, int, float))):
            p.show_default = True
    if path and not command.epilog:
        command.epilog = _epilog(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            decorate(sub, f"{path} {name}".strip())
