"""Parsing: malformed policies become clear problems (invalid-policy), never crashes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmig.policy import analyze, from_objects
from tests.unit.policy.helpers import netpol, pod


def _problem(spec: Any) -> str:
    c = from_objects([netpol("bad", spec)])
    assert not c.policies
    assert len(c.problems) == 1 and c.problems[0].name == "bad"
    return c.problems[0].message


def test_malformed_endport_with_named_port_is_a_finding() -> None:
    assert "named port" in _problem({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]})


def test_malformed_ipblock_with_selector_is_a_finding() -> None:
    msg = _problem({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]})
    assert "ipBlock" in msg


def test_malformed_bad_cidr_is_a_finding() -> None:
    assert "CIDR" in _problem({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.300/8"}}]}]})
    assert "CIDR" in _problem({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.1"}}]}]})


@pytest.mark.parametrize(("spec", "needle"), [
    ({"podSelector": {}, "ingress": [{"from": [{}]}]}, "must specify"),
    ({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.1.0.0/24"]}}]}]},
     "not inside"),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]}, "protocol"),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]}, "outside"),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "lower"),
    ({"podSelector": {}, "ingress": [{"ports": [{"endPort": 80}]}]}, "requires port"),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": "Not_A_Name"}]}]}, "port name"),
    ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}}, "operator"),
    ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}, "at least one value"),
    ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}, "must not"),
    ({"podSelector": {}, "policyTypes": ["Sideways"]}, "policyTypes"),
    ({"podSelector": {}, "ingress": "everything"}, "must be a list"),
    ("not-a-mapping", "spec must be a mapping"),
])
def test_malformed_policy_variants_are_findings(spec: Any, needle: str) -> None:
    assert needle in _problem(spec)


def test_invalid_policy_finding_is_reported_and_policy_ignored() -> None:
    objs = [pod("a", ip="10.0.0.1"), netpol("bad", {"podSelector": {}, "ingress": [{"from": [{}]}]})]
    findings = analyze(objs, "spec", "calico")
    assert [(f.rule, f.severity, f.name) for f in findings] == [("invalid-policy", "error", "bad")]


def test_kind_list_is_flattened_and_namespace_label_added() -> None:
    c = from_objects([{"kind": "List", "items": [pod("a"), {"kind": "PodList", "items": [pod("b", "y")]}]}, None])
    assert sorted(p.key for p in c.pods) == ["x/a", "y/b"]
    assert c.namespaces["y"].labels["kubernetes.io/metadata.name"] == "y"


def test_empty_input_is_valid() -> None:
    c = from_objects([])
    assert not c.pods and not c.policies and not c.problems


junk = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["podSelector", "ingress", "egress", "from", "to", "ports", "port", "endPort", "protocol", "ipBlock", "cidr",
         "except", "namespaceSelector", "matchLabels", "matchExpressions", "key", "operator", "values",
         "policyTypes"]), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(junk)
def test_fuzzed_policies_never_crash(spec: Any) -> None:
    objs = [pod("a", ip="10.0.0.1"), pod("b", ip="10.0.0.2"), netpol("fuzz", spec),
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, {"kind": "Service", "metadata": {"name": "s"},
                                                                       "spec": spec}]
    c = from_objects(objs)
    assert len(c.policies) + sum(p.kind == "NetworkPolicy" for p in c.problems) == 1
    analyze(c, "npm", "cilium")
