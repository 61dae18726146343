"""What the Prefect UI shows, without a server: log lines readable (message text, the structured fields as extra),
flow run names from the cluster and the migration, artifact descriptions, schedules named so their off state shows."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import yaml

from flows.naming import cluster_name, run_name
from netmig.logs import Readable, readable_text

ROOT = Path(__file__).resolve().parents[3]


def test_a_json_log_line_reads_as_its_message_with_the_fields_kept_as_extra() -> None:
    line = json.dumps({"event": "step done", "step": "update-network", "outcome": "ok", "level": "info",
                       "timestamp": "2026-12-02T09:00:00Z"})
    assert readable_text(line) == ("step done · step=update-network outcome=ok",
                                   {"step": "update-network", "outcome": "ok"})
    assert readable_text("\x1b[1mwatch\x1b[0m pool=user") == ("watch pool=user", {})

    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)

    Readable(Keep()).handle(logging.makeLogRecord({"msg": line, "name": "netmig.flow", "levelno": 20}))
    assert got[0].getMessage() == "step done · step=update-network outcome=ok"
    assert got[0].netmig_fields == {"step": "update-network", "outcome": "ok"}  # type: ignore[attr-defined]


def test_run_names_say_cluster_kind_and_date() -> None:
    assert run_name("aks-npm", "npm-to-cilium", dt.date(2026, 12, 2)) == "aks-npm · npm-to-cilium · 2026-12-02"
    rid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/prod-1"
    assert cluster_name({"cluster": rid}) == "prod-1"
    assert cluster_name({"subscription": "s", "resource_group": "rg", "name": "prod-2"}) == "prod-2"
    assert cluster_name({}) == "" and run_name("", "uninstall", dt.date(2026, 1, 1)) == "uninstall · 2026-01-01"


def test_schedules_are_named_off_until_switched_on() -> None:
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for d in doc["deployments"]:
        for s in d.get("schedules") or []:
            assert s["active"] is False and s["slug"].endswith("-off-until-switched-on"), d["name"]


def test_every_step_artifact_has_a_description() -> None:
    from tasks.migrate import ARTIFACT_DESCRIPTIONS

    assert {"migration-report", "connectivity-heatmap", "reimage-timeline"} <= set(ARTIFACT_DESCRIPTIONS)
    src = (ROOT / "tasks" / "migrate.py").read_text() + (ROOT / "tasks" / "verify.py").read_text()
    assert "create_markdown_artifact(markdown, key=key)" not in src


def test_the_run_forms_have_no_str_none_toggles() -> None:
    """Prefect renders ``X | None`` as a type toggle ('Property is type "None"'): the forms have none."""
    from prefect.utilities.callables import parameter_schema

    from flows.migrate import migrate
    from flows.preflight import preflight

    for fn in (migrate, preflight):
        schema = json.dumps(parameter_schema(fn).model_dump())
        doc = json.loads(schema)
        for name, d in doc.get("definitions", {}).items():
            for field, prop in d.get("properties", {}).items():
                assert not any(x.get("type") == "null" for x in prop.get("anyOf", [])), (name, field)
