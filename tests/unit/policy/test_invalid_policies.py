"""Invalid policies never clear a finding: a NetworkPolicy the API server would reject is reported as
``invalid-policy`` and counts as nothing for every other rule -- it neither protects (clears a finding) nor is
reported as using a feature (it does not exist in a real cluster)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from netmig.policy import RULE_IDS, Finding, analyze, diff, from_objects, get_engine
from tests.unit.policy.helpers import netpol, node, ns, pod, svc

WEB = {"app": "web"}
Spec = dict[str, Any]


def _port0(s: Spec) -> None:
    s.setdefault("ingress", [{}])[0].setdefault("ports", []).append({"port": 0})


def _bad_cidr(s: Spec) -> None:
    s.setdefault("ingress", [{}]).append({"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]})


def _except_outside(s: Spec) -> None:
    s.setdefault("ingress", [{}]).append({"from": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.1.0.0/24"]}}]})


def _end_before_port(s: Spec) -> None:
    s.setdefault("ingress", [{}])[0].setdefault("ports", []).append({"port": 90, "endPort": 80})


def _protocol(s: Spec) -> None:
    s.setdefault("ingress", [{}])[0].setdefault("ports", []).append({"port": 80, "protocol": "ICMP"})


def _policy_types(s: Spec) -> None:
    s["policyTypes"] = ["Ingress", "Sideways"]


def _operator(s: Spec) -> None:
    s["podSelector"] = {**s.get("podSelector", {}), "matchExpressions": [{"key": "app", "operator": "Maybe"}]}


def _label_value(s: Spec) -> None:
    s["podSelector"] = {"matchLabels": {**(s.get("podSelector") or {}).get("matchLabels", {}), "tier": "x" * 64}}


def _label_key(s: Spec) -> None:
    s["podSelector"] = {"matchLabels": {**(s.get("podSelector") or {}).get("matchLabels", {}), "bad key!": "x"}}


def _port_name(s: Spec) -> None:
    s.setdefault("ingress", [{}])[0].setdefault("ports", []).append({"port": "HTTP_PORT"})


def _mixed_peer(s: Spec) -> None:
    s.setdefault("ingress", [{}]).append({"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]})


TWISTS: list[Callable[[Spec], None]] = [_port0, _bad_cidr, _except_outside, _end_before_port, _protocol,
                                        _policy_types, _operator, _label_value, _label_key, _port_name, _mixed_peer]


def invalid(name: str, spec: Spec, twist: Callable[[Spec], None], namespace: str = "x") -> dict[str, Any]:
    s = copy.deepcopy(spec)
    twist(s)
    return netpol(name, s, namespace)


def rules(objs: list[dict[str, Any]], source: str = "npm", target: str = "cilium") -> list[tuple[str, str | None]]:
    return sorted((f.rule, f.name) for f in analyze(objs, source, target))


def by_rule(objs: list[dict[str, Any]], rule: str, **kw: Any) -> list[Finding]:
    return [f for f in analyze(objs, kw.get("source", "npm"), kw.get("target", "cilium")) if f.rule == rule]


@pytest.mark.parametrize("twist", TWISTS, ids=lambda t: t.__name__.strip("_"))
def test_every_twist_is_rejected_as_the_api_server_would(twist: Callable[[Spec], None]) -> None:
    c = from_objects([invalid("bad", {"podSelector": {"matchLabels": WEB}, "ingress": [{}]}, twist)])
    assert c.policies == [] and [p.name for p in c.problems] == ["bad"]
    f = by_rule([invalid("bad", {"podSelector": {"matchLabels": WEB}, "ingress": [{}]}, twist)], "invalid-policy")
    assert [(x.name, x.severity) for x in f] == [("bad", "error")]


@pytest.mark.parametrize("twist", TWISTS, ids=lambda t: t.__name__.strip("_"))
def test_service_traffic_policy_is_not_cleared_by_an_invalid_allow(twist: Callable[[Spec], None]) -> None:
    deny = netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    allow = {"podSelector": {"matchLabels": WEB}, "ingress": [{}]}
    base = [pod("w", labels=WEB, ip="10.0.0.1"), svc("lb", WEB), deny]
    assert not by_rule([*base, netpol("allow", allow)], "service-traffic-policy")  # the valid twin clears it
    got = rules([*base, invalid("allow", allow, twist)])
    assert ("service-traffic-policy", "lb") in got and ("invalid-policy", "allow") in got


@pytest.mark.parametrize("twist", TWISTS, ids=lambda t: t.__name__.strip("_"))
def test_connectivity_change_is_not_cleared_by_an_invalid_allow(twist: Callable[[Spec], None]) -> None:
    objs = [ns("x"), pod("a", labels={"app": "a"}, ip="10.0.0.1"), pod("b", labels=WEB, ip="10.0.0.2"),
            netpol("by-cidr", {"podSelector": {"matchLabels": WEB},
                               "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]})]
    allow = {"podSelector": {"matchLabels": WEB}, "ingress": [{"from": [{"podSelector": {"matchLabels": {
        "app": "a"}}}]}]}
    assert not by_rule([*objs, netpol("allow", allow)], "connectivity-change")
    assert [f.name for f in by_rule([*objs, invalid("allow", allow, twist)], "connectivity-change")] == ["by-cidr"]
    cluster = from_objects([*objs, invalid("allow", allow, twist)])
    cells = diff(cluster, get_engine("npm"), get_engine("cilium"))
    assert [(c.src, c.dst, c.before, c.after) for c in cells] == [("x/a", "x/b", True, False)]


@pytest.mark.parametrize("twist", TWISTS, ids=lambda t: t.__name__.strip("_"))
def test_an_invalid_policy_alone_yields_only_invalid_policy(twist: Callable[[Spec], None]) -> None:
    """Every feature rule (end-port, ip-block, named-port, egress-policy, windows-npm-unsupported) and the
    engine-difference rules see nothing of a rejected policy, whatever it uses."""
    uses_everything = {
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"ports": [{"port": 80, "endPort": 90}, {"port": "http"}, {"port": 81, "protocol": "SCTP"}],
                     "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}],
        "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}],
    }
    objs = [node("w1", os="windows"), pod("w", labels=WEB, ip="10.0.0.1", node="w1"),
            pod("v", labels={}, ip="10.0.0.2", node="w1"), svc("lb", WEB)]
    valid = rules([*objs, netpol("p", uses_everything)])
    assert {r for r, _ in valid} >= {"end-port", "ip-block", "named-port", "egress-policy",
                                     "windows-npm-unsupported", "connectivity-change"}
    for target in ("cilium", "calico", "npm"):
        got = rules([*objs, invalid("p", uses_everything, twist)], target=target)
        assert got == [("invalid-policy", "p")], (target, got)


def test_every_rule_is_covered() -> None:
    covered = {"invalid-policy", "service-traffic-policy", "connectivity-change", "end-port", "ip-block",
               "named-port", "egress-policy", "windows-npm-unsupported"}
    # npm-scale-limit counts nodes and pods only: policies, valid or not, never enter it
    assert covered | {"npm-scale-limit"} == set(RULE_IDS)
    many = [{"kind": "Node", "metadata": {"name": f"n{i}"}} for i in range(251)]
    bad = invalid("bad", {"podSelector": {}, "ingress": [{}]}, _port0)
    assert rules([*many, bad]) == [("invalid-policy", "bad"), ("npm-scale-limit", None)]
