"""The AKS rules data file: every rule cites its source, the loader refuses malformed files, kinds match templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from netmig.model.transition_rules import load_rules, rules_text

PLANS = Path(__file__).resolve().parents[3] / "plans"
RAW = yaml.safe_load(rules_text())
SECTIONS = ("constraints", "refusals", "transitions")


def _rules() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    return [(f"{section}/{r['id']}", r) for section in SECTIONS for r in RAW[section]]


@pytest.mark.parametrize(("rid", "rule"), _rules(), ids=[rid for rid, _ in _rules()])
def test_every_rule_cites_a_source_url_and_the_date_it_was_read(rid: str, rule: dict) -> None:  # type: ignore[type-arg]
    assert str(rule.get("source", "")).startswith("https://"), f"{rid} has no source URL"
    assert dt.date.fromisoformat(str(rule.get("read"))), f"{rid} has no read date"  # quoted ISO date
    refusal = rule.get("refusal")
    if refusal is not None:
        assert str(refusal.get("source", "")).startswith("https://"), f"{rid}.refusal has no source URL"
        assert dt.date.fromisoformat(str(refusal.get("read")))


def test_every_refusal_and_constraint_names_an_arm_error_code_and_message() -> None:
    for section in ("constraints", "refusals"):
        for r in RAW[section]:
            assert r["code"] and r["code"][0].isupper(), r["id"]
            assert r["message"].strip(), r["id"]


def test_the_packaged_file_loads_and_counts_every_rule() -> None:
    book = load_rules()
    assert len(book.constraints) + len(book.refusals) + len(book.transitions) == len(_rules())
    assert book.undocumented_code == "UndocumentedNetworkProfileChange"
    assert all(s.url.startswith("https://") for s in book.all_sources)


def _without(section: str, rid: str, key: str) -> str:
    doc = yaml.safe_load(rules_text())
    for r in doc[section]:
        if r["id"] == rid:
            del r[key]
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(("section", "rid"), [("transitions", "kubenet-to-overlay"), ("refusals", "engine-to-engine"),
                                              ("constraints", "cilium-needs-azure-cni")])
def test_a_rule_without_a_source_is_refused_by_the_loader(section: str, rid: str) -> None:
    with pytest.raises(ValueError, match=f"{rid} has no 'source'"):
        load_rules(_without(section, rid, "source"))


def test_a_rule_without_a_read_date_is_refused_by_the_loader() -> None:
    with pytest.raises(ValueError, match="uninstall-engine has no 'read'"):
        load_rules(_without("transitions", "uninstall-engine", "read"))


def test_unknown_values_kinds_and_duplicate_ids_are_refused() -> None:
    doc = yaml.safe_load(rules_text())
    doc["transitions"][0]["from"] = {"policy": "weave"}
    with pytest.raises(ValueError, match="unknown value"):
        load_rules(yaml.safe_dump(doc))
    doc = yaml.safe_load(rules_text())
    doc["transitions"][0]["kind"] = "teleport"
    with pytest.raises(ValueError, match="undeclared kind 'teleport'"):
        load_rules(yaml.safe_dump(doc))
    doc = yaml.safe_load(rules_text())
    doc["refusals"].append(dict(doc["refusals"][0]))
    with pytest.raises(ValueError, match="used twice"):
        load_rules(yaml.safe_dump(doc))


@pytest.mark.parametrize("kind", [k for k, v in RAW["kinds"].items() if v.get("exists")])
def test_an_existing_kind_has_its_template_and_the_same_source(kind: str) -> None:
    template = yaml.safe_load((PLANS / f"{kind}.yaml").read_text())
    assert (template.get("source") or {}) == RAW["kinds"][kind]["source"]


def test_the_data_file_reads_without_netmig() -> None:
    """The sandbox reads the file with PyYAML alone: the file is plain YAML, no tags, no anchors."""
    text = rules_text()
    assert "!!" not in text and "&" not in text.replace("&&", "")
    assert set(RAW) >= {"schema", "fields", "kinds", "constraints", "refusals", "transitions", "undocumented"}
