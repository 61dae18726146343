"""Create (or replace) the failure-alert automation(s) on the Prefect server at PREFECT_API_URL.

    .venv/bin/python automations/create.py --webhook-url https://hooks.example.com/T/B/X [--file FILE ...]

Stores the URL in a Webhook block (``--block``, default ``netmig-alerts``; the URL is kept as a secret), fills its
id into every ``call-webhook`` action whose ``block_document_id`` is ``"{{ webhook_block_id }}"``, deletes any
automation with the same name and creates it again, so rerunning is safe. Prints ``NAME ID`` per automation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PLACEHOLDER = "{{ webhook_block_id }}"


def load_specs(path: Path, block_id: str) -> list[dict[str, Any]]:
    """The automation specs in ``path`` (one mapping or a list), with the webhook block id filled in."""
    data = yaml.safe_load(path.read_text())
    specs = data if isinstance(data, list) else [data]
    for spec in specs:
        for action in spec.get("actions") or []:
            if action.get("block_document_id") == PLACEHOLDER:
                action["block_document_id"] = block_id
    return specs


def create(webhook_url: str, files: list[Path], block: str = "netmig-alerts") -> list[tuple[str, str]]:
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    block_id = str(Webhook(url=webhook_url, method="POST").save(block, overwrite=True))
    out = []
    with get_client(sync_client=True) as client:
        for path in files:
            for spec in load_specs(path, block_id):
                automation = AutomationCore.model_validate(spec)
                for old in client.read_automations_by_name(automation.name):
                    client.delete_automation(old.id)
                out.append((automation.name, str(client.create_automation(automation))))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--webhook-url", required=True, help="Where to POST the alert (Slack/Teams/any HTTP endpoint).")
    ap.add_argument("--file", type=Path, action="append", default=None,
                    help="Automation spec (YAML/JSON); default: every *.yaml next to this script.")
    ap.add_argument("--block", default="netmig-alerts", help="Name of the Webhook block holding the URL.")
    args = ap.parse_args(argv)
    files = args.file or sorted(HERE.glob("*.yaml"))
    for name, automation_id in create(args.webhook_url, files, args.block):
        print(name, automation_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
