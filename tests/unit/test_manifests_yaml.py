"""Manifest loading: kubectl's YAML reading (go-yaml v2 rules), the fast and the libyaml path agree, and parity with
the previous loader (PyYAML ``safe_load_all``) on every YAML file of the repository and on generated clusters."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig import yamlkube
from netmig.errors import UsageError
from netmig.manifests import load_file, load_manifests
from netmig.policy import from_objects
from netmig.yamlkube import _slow, go_number, load_yaml_documents, needs_yaml11

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

CORNERS = """\
metadata:
  labels:
    a: yes
    b: no
    c: on
    d: off
    e: y
    f: n
    g: "yes"
    h: 'on'
    i: Yes
    j: OFF
spec:
  mode: 0755
  octal: 0o755
  hex: 0x1F
  bin: 0b101
  eight: 08
  float: 1e3
  sexagesimal: 1:20
  date: 2024-01-01
  quoted_date: "2024-01-01"
  nothing: ~
  empty:
  under: 1_000
  plus: +12
  80: eighty
  yes: key
"""

EXPECTED_CORNERS = {
    "metadata": {"labels": {"a": True, "b": False, "c": True, "d": False, "e": True, "f": False, "g": "yes",
                            "h": "on", "i": True, "j": False}},
    "spec": {"mode": 493, "octal": 493, "hex": 31, "bin": 5, "eight": 8.0, "float": 1000.0,
             "sexagesimal": "1:20", "date": "2024-01-01", "quoted_date": "2024-01-01", "nothing": None,
             "empty": None, "under": 1000, "plus": 12, "80": "eighty", "true": "key"},
}


def test_yaml11_corners_read_as_kubectl_does() -> None:
    assert needs_yaml11(CORNERS)
    docs = load_yaml_documents(CORNERS)
    assert docs == [EXPECTED_CORNERS]
    assert isinstance(docs[0]["spec"]["eight"], float)


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("00", 0), ("-0755", -493), ("0x", "0x"), ("1__0", 10), ("012345678", 12345678.0), ("12abc", "12abc"),
    (".5", 0.5), ("-.inf", float("-inf")), ("+1.5e2", 150.0), ("2024-01-01", "2024-01-01"),
])
def test_go_number(text: str, value: Any) -> None:
    got = go_number(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("line", ["k: yes", "k: No", "- on", "[a, off]", "{a: y}", "k: 0755", "k: 2024-01-01",
                                  "80: x", "true: x", "k: !!str 5", "x: &a yes", "<<: *a", "--- a: 1",
                                  "  n: 1", "k:   OFF # comment"])
def test_scan_flags_every_divergent_plain_scalar(line: str) -> None:
    assert needs_yaml11(line)


@pytest.mark.parametrize("line", ['k: "yes"', "k: 'no'", "k: yesterday", "k: nothing", "k: 8080", "k: 10.0.0.1",
                                  "k: 1:20", "name: on-call", "- 0.5", 'k: "0755"', "k: True", "k: null"])
def test_scan_leaves_safe_lines_to_the_fast_path(line: str) -> None:
    assert not needs_yaml11(line)
    assert load_yaml_documents(line) == _slow(line)


def test_both_paths_agree_on_corners_line_by_line() -> None:
    for line in CORNERS.splitlines():
        if line.strip() and not line.startswith(" "):
            continue
        text = line.strip()
        if text.endswith(":"):
            continue
        assert _slow(text) == load_yaml_documents(text), text


def test_anchors_merge_keys_and_multi_documents() -> None:
    text = "a: &x {p: 1, q: [1, 2]}\nb: *x\nc:\n  <<: *x\n  p: 3\n---\n# only a comment\n---\nkind: Pod\n...\n"
    assert load_yaml_documents(text) == [{"a": {"p": 1, "q": [1, 2]}, "b": {"p": 1, "q": [1, 2]},
                                          "c": {"p": 3, "q": [1, 2]}}, {"kind": "Pod"}]


def test_bom_crlf_and_list_files(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_bytes(b"\xef\xbb\xbfapiVersion: v1\r\nkind: List\r\nitems:\r\n- kind: Namespace\r\n  metadata:\r\n"
                  b"    name: x\r\n---\r\nkind: Namespace\r\nmetadata: {name: w}\r\n")
    docs = load_file(p)
    assert docs[0]["items"] == [{"kind": "Namespace", "metadata": {"name": "x"}}]
    assert docs[1] == {"kind": "Namespace", "metadata": {"name": "w"}}
    j = tmp_path / "m.json"
    j.write_bytes(b"\xef\xbb\xbf" + json.dumps({"kind": "List", "items": [{"kind": "Namespace"}]}).encode())
    assert load_file(j) == [{"kind": "List", "items": [{"kind": "Namespace"}]}]
    # a .yaml file holding JSON takes the JSON path; a flow mapping that is not JSON is still YAML
    (tmp_path / "j.yaml").write_text('{"kind": "Pod"}')
    (tmp_path / "f.yaml").write_text("{kind: Pod, metadata: {name: p}}")
    assert load_file(tmp_path / "j.yaml") == [{"kind": "Pod"}]
    assert load_file(tmp_path / "f.yaml") == [{"kind": "Pod", "metadata": {"name": "p"}}]


@pytest.mark.parametrize("body", ["a: [1", "a: b: c", "- x\n y: 1", "\tbad: tab"])
def test_bad_yaml_is_one_usage_error(tmp_path: Path, body: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(body)
    with pytest.raises(UsageError) as ei:
        load_file(p)
    assert "\n" not in str(ei.value) and "bad.yaml" in str(ei.value)


def test_unquoted_yes_label_is_rejected_like_the_api_server_would() -> None:
    docs = load_yaml_documents("kind: Pod\nmetadata:\n  name: p\n  namespace: x\n  labels:\n    debug: yes\n")
    cluster = from_objects(docs)
    assert cluster.pods == []
    assert [p.kind for p in cluster.problems] == ["Pod"]
    assert "debug" in cluster.problems[0].message and "quote" in cluster.problems[0].message


def _corpus() -> list[Path]:
    skip = {".venv", ".netmig", ".git", "node_modules"}
    return sorted(p for p in ROOT.rglob("*") if p.suffix in (".yaml", ".yml") and not skip & set(p.parts))


def test_parity_with_the_previous_loader_on_every_repository_yaml() -> None:
    files = _corpus()
    assert len(files) >= 15
    for f in files:
        text = f.read_text()
        before = [d for d in yaml.safe_load_all(text) if d is not None]
        assert load_yaml_documents(text) == before, f
        assert _slow(text) == before, f


def test_parity_on_generated_kubectl_dumps_and_test_fixtures(tmp_path: Path) -> None:
    import cluster_gen

    from tests.unit.policy import helpers
    from tests.unit.policy.test_cli import OBJS

    objs = cluster_gen.generate(300, 30, 6)
    p = tmp_path / "c.yaml"
    cluster_gen.write_yaml(objs, p)
    text = p.read_text()
    assert not needs_yaml11(text), "a kubectl-style dump must take the fast path"
    before = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    assert load_yaml_documents(text) == before
    assert before[0]["items"] == objs
    fixtures = yaml.safe_dump_all([*OBJS, helpers.pod("z", labels={"on": "yes"}, ip="10.0.0.9")])
    assert load_yaml_documents(fixtures) == list(yaml.safe_load_all(fixtures))
    j = tmp_path / "c.json"
    cluster_gen.write_json(objs, j)
    assert load_manifests([j]) == load_manifests([p])


def test_libyaml_only_when_yaml_rs_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlkube, "_yaml_rs", None)
    assert load_yaml_documents(CORNERS) == [EXPECTED_CORNERS]


# --- streaming a kubectl List (iter_yaml_objects / iter_manifests) ---------------------------------------------


def _expanded(pairs: Any) -> list[Any]:
    """(document, nested) pairs with the List headers' items filled back in (the shape of load_yaml_documents)."""
    out: list[Any] = []
    for doc, nested in pairs:
        if nested:
            out[-1]["items"].append(doc)
        else:
            out.append(doc)
    return out


def _same_as_whole(text: str) -> list[Any]:
    from netmig.yamlkube import iter_yaml_objects

    got = _expanded(iter_yaml_objects(text))
    assert got == load_yaml_documents(text)
    return got


LIST_HEAD = "apiVersion: v1\nitems:\n"
LIST_TAIL = "kind: List\nmetadata:\n  resourceVersion: \"\"\n"


@pytest.mark.parametrize("items", [
    "- kind: Pod\n  metadata:\n    name: a\n- kind: Pod\n  metadata:\n    name: b\n",
    "- kind: Pod\n  metadata: &m\n    name: a\n- kind: Pod\n  metadata: *m\n",  # alias to an earlier item
    "- kind: Pod\n  m: &m {a: 1}\n- kind: Pod\n  n:\n    <<: *m\n    b: 2\n",  # merge key across items
    '- kind: Pod\n  note: "two\n- lines"\n- kind: Pod\n',  # a quoted scalar running over a column-0 "- "
    "- kind: Pod\n  labels:\n    on: yes\n    n: 0755\n- kind: Pod\n",  # YAML 1.1 scalars: the libyaml path
    "# a comment\n- kind: Pod\n\n# another\n-\n  kind: Pod\n- - nested\n",
    "- kind: Pod\n  script: |\n    - not an item\n    done\n- kind: Pod\n",
    "-\n- kind: Pod\n- 12\n",  # an empty entry and a scalar stay items (the model skips them)
])
def test_list_read_item_by_item_equals_the_whole_read(items: str) -> None:
    docs = _same_as_whole(LIST_HEAD + items + LIST_TAIL)
    assert docs[0]["kind"] == "List"
    _same_as_whole(LIST_HEAD + items)  # the header keys before the items only
    _same_as_whole("kind: List\nitems:\n" + items + "---\nkind: Namespace\nmetadata: {name: x}\n")


@pytest.mark.parametrize("text", [
    "kind: Thing\nitems:\n- a\n- b\n",  # not a List: read whole, items kept
    "kind: List\nitems:\n- a\nitems:\n- b\n",  # a duplicate key: the whole read decides (last wins)
    "kind: List\nitems:\n  - a\n  - b\n",  # indented entries
    "kind: List\nitems: [a, b]\n",
    "kind: List\nitems:\n- a\n...\n",
    "items:\n- kind: Pod\n",  # no kind at all
])
def test_other_shapes_are_read_whole(text: str) -> None:
    from netmig.yamlkube import iter_yaml_objects

    assert [doc for doc, _ in iter_yaml_objects(text)] == load_yaml_documents(text)


@pytest.mark.parametrize("text", [
    LIST_HEAD + "- kind: Pod\nmetadata:\n  x:\n- b\n" + LIST_TAIL,  # the header does not read
    LIST_HEAD + "- kind: Pod\n- kind: [Pod\n" + LIST_TAIL,  # an item does not read
    LIST_HEAD + "- kind: Pod\n  a: b: c\n" + LIST_TAIL,
])
def test_bad_lists_fail_with_the_whole_reads_message(text: str) -> None:
    from netmig.yamlkube import YamlError, iter_yaml_objects

    with pytest.raises(YamlError) as whole:
        load_yaml_documents(text)
    with pytest.raises(YamlError) as streamed:
        list(iter_yaml_objects(text))
    assert str(streamed.value) == str(whole.value)


def test_a_bad_item_is_one_usage_error_naming_the_file(tmp_path: Path) -> None:
    from netmig.manifests import iter_manifests

    p = tmp_path / "dump.yaml"
    p.write_text(LIST_HEAD + "- kind: Pod\n- kind: [Pod\n" + LIST_TAIL)
    with pytest.raises(UsageError) as ei:
        list(iter_manifests([p]))
    assert "dump.yaml" in str(ei.value) and "\n" not in str(ei.value)
    (tmp_path / "dump.yaml").write_text("- a\n")
    with pytest.raises(UsageError, match="document 1 is a list"):
        list(iter_manifests([p]))


def test_iter_manifests_equals_load_manifests_on_generated_dumps(tmp_path: Path) -> None:
    import cluster_gen

    from netmig.manifests import iter_manifests
    from netmig.policy.model import flatten

    objs = cluster_gen.generate(300, 30, 6)
    cluster_gen.write_yaml(objs, tmp_path / "c.yaml")
    cluster_gen.write_json(objs, tmp_path / "d.json")
    (tmp_path / "e.yaml").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "c.yaml").read_bytes().replace(b"\n", b"\r\n"))
    pairs = list(iter_manifests([tmp_path]))
    assert sum(nested for _, nested in pairs) == 2 * len(objs)  # both YAML files streamed, the JSON read whole
    assert flatten(doc for doc, _ in pairs) == flatten(load_manifests([tmp_path])) == objs * 3
    assert _expanded(pairs) == load_manifests([tmp_path])  # (fills the headers' items in)


def test_parity_of_the_streamed_read_on_every_repository_yaml() -> None:
    for f in _corpus():
        _same_as_whole(f.read_text())
