"""Parity with azure-npm-to-cilium-validator (rules written from its descriptions) and the rules beyond it."""

from __future__ import annotations

from typing import Any

from netmig.policy import RULE_IDS, Finding, analyze, get_engine
from tests.unit.policy.helpers import netpol, node, ns, pod, svc

WEB = {"app": "web"}


def flagged(objs: list[dict[str, Any]], rule: str, target: Any = "cilium", source: Any = "npm") -> list[Finding]:
    return [f for f in analyze(objs, source, target) if f.rule == rule]


def names(fs: list[Finding]) -> list[str | None]:
    return sorted(f.name for f in fs)


def test_rule_ids_are_stable() -> None:
    assert RULE_IDS == ("end-port", "ip-block", "named-port", "egress-policy", "service-traffic-policy",
                        "connectivity-change", "windows-npm-unsupported", "npm-scale-limit", "invalid-policy")


# --- end-port ------------------------------------------------------------------------------------------------


def test_parity_end_port_flags_ingress_and_egress_endport() -> None:
    objs = [netpol("in", {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 90}]}]}),
            netpol("out", {"podSelector": {}, "egress": [{"ports": [{"port": 80, "endPort": 90}]}]}),
            netpol("plain", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})]
    assert names(flagged(objs, "end-port")) == ["in", "out"]
    assert {f.severity for f in flagged(objs, "end-port", get_engine("cilium", "1.16"))} == {"error"}
    assert {f.severity for f in flagged(objs, "end-port", get_engine("cilium", "1.17"))} == {"info"}


def test_parity_end_port_not_reported_for_non_cilium_target() -> None:
    objs = [netpol("in", {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 90}]}]})]
    assert not flagged(objs, "end-port", target="calico")


# --- ip-block ------------------------------------------------------------------------------------------------


def test_parity_ip_block_flags_any_cidr_peer() -> None:
    objs = [pod("a", ip="10.0.0.1"),
            netpol("ext", {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}]}),
            netpol("internal", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}),
            netpol("sel", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})]
    fs = flagged(objs, "ip-block")
    assert names(fs) == ["ext", "internal"]
    sev = {f.name: f.severity for f in fs}
    assert sev == {"ext": "warning", "internal": "error"}  # covering a pod IP is a real break


# --- named-port ----------------------------------------------------------------------------------------------


def test_parity_named_port_flags_string_ports() -> None:
    objs = [pod("a", ports=[("http", 80, "TCP")]), pod("b", ports=[("http", 8080, "TCP")]),
            netpol("named", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}),
            netpol("named-egress", {"podSelector": {}, "egress": [{"ports": [{"port": "dns", "protocol": "UDP"}]}]}),
            netpol("numeric", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})]
    fs = flagged(objs, "named-port")
    assert names(fs) == ["named", "named-egress"]
    assert {f.name: f.severity for f in fs} == {"named": "error", "named-egress": "warning"}  # http -> 80 and 8080


# --- egress-policy -------------------------------------------------------------------------------------------


def test_parity_egress_policy_flags_deny_all_egress_type_without_rules() -> None:
    objs = [netpol("deny", {"podSelector": {}, "policyTypes": ["Egress"]})]
    assert names(flagged(objs, "egress-policy")) == ["deny"]


def test_parity_egress_policy_flags_rules_with_to_or_ports() -> None:
    objs = [netpol("to", {"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}]}),
            netpol("ports", {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})]
    assert names(flagged(objs, "egress-policy")) == ["ports", "to"]


def test_parity_egress_policy_allow_all_and_ingress_only_pass() -> None:
    objs = [netpol("allow-all", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}),
            netpol("ingress-only", {"podSelector": {}, "ingress": [{}]}),
            netpol("empty-egress-no-types", {"podSelector": {}, "egress": []})]
    assert not flagged(objs, "egress-policy")


# --- service-traffic-policy ----------------------------------------------------------------------------------


def _svc_objs(*pols: dict[str, Any], service: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [pod("w", labels=WEB, ip="10.0.0.1"), service or svc("lb", WEB), *pols]


INGRESS_DENY = netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress"]})


def test_parity_service_traffic_policy_flags_cluster_etp_in_namespace_with_ingress_policy() -> None:
    assert names(flagged(_svc_objs(INGRESS_DENY), "service-traffic-policy")) == ["lb"]
    nodeport = svc("np", WEB, type_="NodePort")
    assert names(flagged(_svc_objs(INGRESS_DENY, service=nodeport), "service-traffic-policy")) == ["np"]
    explicit = svc("lb", WEB, etp="Cluster")
    assert names(flagged(_svc_objs(INGRESS_DENY, service=explicit), "service-traffic-policy")) == ["lb"]


def test_parity_service_traffic_policy_skips_local_clusterip_and_unpoliced_namespaces() -> None:
    assert not flagged(_svc_objs(INGRESS_DENY, service=svc("lb", WEB, etp="Local")), "service-traffic-policy")
    assert not flagged(_svc_objs(INGRESS_DENY, service=svc("c", WEB, type_="ClusterIP")), "service-traffic-policy")
    assert not flagged(_svc_objs(), "service-traffic-policy")
    egress_only = netpol("eg", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert not flagged(_svc_objs(egress_only), "service-traffic-policy")
    other_ns = netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress"]}, namespace="other")
    assert not flagged(_svc_objs(other_ns), "service-traffic-policy")


def test_parity_service_traffic_policy_cleared_by_allow_all_rule_matching_selector() -> None:
    allow = netpol("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{}]})
    assert not flagged(_svc_objs(INGRESS_DENY, allow), "service-traffic-policy")
    allow_all_pods = netpol("allow", {"podSelector": {}, "ingress": [{}]})
    assert not flagged(_svc_objs(INGRESS_DENY, allow_all_pods), "service-traffic-policy")


def test_parity_service_traffic_policy_cleared_by_ports_covering_every_target_port() -> None:
    ports = ({"port": 80, "targetPort": 8080}, {"port": 53, "targetPort": 5353, "protocol": "UDP"})
    service = svc("lb", WEB, ports=ports)
    covering = netpol("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{"ports": [
        {"port": 8080}, {"port": 5353, "protocol": "UDP"}]}]})
    assert not flagged(_svc_objs(INGRESS_DENY, covering, service=service), "service-traffic-policy")
    proto_only = netpol("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{"ports": [
        {"protocol": "TCP"}, {"protocol": "UDP"}]}]})
    assert not flagged(_svc_objs(INGRESS_DENY, proto_only, service=service), "service-traffic-policy")
    partial = netpol("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{"ports": [{"port": 8080}]}]})
    assert flagged(_svc_objs(INGRESS_DENY, partial, service=service), "service-traffic-policy")


def test_parity_service_traffic_policy_not_cleared_by_from_expressions_or_named_target_port() -> None:
    with_from = netpol("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{"from": [{"ipBlock": {
        "cidr": "0.0.0.0/0"}}]}]})
    assert flagged(_svc_objs(INGRESS_DENY, with_from), "service-traffic-policy")
    exprs = netpol("allow", {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In",
                                                                   "values": ["web"]}]}, "ingress": [{}]})
    assert flagged(_svc_objs(INGRESS_DENY, exprs), "service-traffic-policy")
    named_tp = svc("lb", WEB, ports=({"port": 80, "targetPort": "http"},))
    ports_rule = netpol("allow", {"podSelector": {"matchLabels": WEB}, "ingress": [{"ports": [{"port": 80}]}]})
    assert flagged(_svc_objs(INGRESS_DENY, ports_rule, service=named_tp), "service-traffic-policy")
    other_sel = netpol("allow", {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{}]})
    assert flagged(_svc_objs(INGRESS_DENY, other_sel), "service-traffic-policy")


# --- beyond the validator -------------------------------------------------------------------------------------


def test_connectivity_change_names_policy_and_cells() -> None:
    objs = [ns("x"), pod("a", labels={"app": "a"}, ip="10.0.0.1"), pod("b", labels={"app": "b"}, ip="10.0.0.2"),
            netpol("by-cidr", {"podSelector": {"matchLabels": {"app": "b"}},
                               "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]})]
    fs = flagged(objs, "connectivity-change")
    assert [(f.name, f.severity) for f in fs] == [("by-cidr", "error")]
    cell = fs[0].details["cells"][0]
    assert cell["example"] == "x/a -> x/b" and cell["port"] == 80 and cell["npm"] and not cell["cilium"]
    assert not flagged(objs, "connectivity-change", target="calico", source="spec")


def test_connectivity_change_reports_own_node_egress_and_service_bypass() -> None:
    objs = [node("n1"), pod("w", labels=WEB, ip="10.0.0.1"), svc("lb", WEB),
            netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})]
    fs = flagged(objs, "connectivity-change")
    assert len(fs) == 1 and fs[0].name == "deny"
    kinds = {c["dst_class"] for c in fs[0].details["cells"]} | {c["src_class"] for c in fs[0].details["cells"]}
    assert "own-node" in kinds and "external via x/lb" in kinds


def test_windows_npm_unsupported_only_with_windows_nodes_and_npm() -> None:
    pols = [netpol("named", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}),
            netpol("sctp", {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "SCTP"}]}]}),
            netpol("neg", {"podSelector": {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}}),
            netpol("exc", {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                                               "except": ["10.1.0.0/16"]}}]}]}),
            netpol("fine", {"podSelector": {"matchLabels": WEB}, "ingress": [{"ports": [{"port": 80}]}]})]
    with_win = [node("w1", os="windows"), *pols]
    assert names(flagged(with_win, "windows-npm-unsupported")) == ["exc", "named", "neg", "sctp"]
    assert not flagged([node("l1"), *pols], "windows-npm-unsupported")
    assert not flagged(with_win, "windows-npm-unsupported", target="cilium", source="calico")


def test_npm_scale_limit() -> None:
    nodes = [{"kind": "Node", "metadata": {"name": f"n{i}"}} for i in range(251)]
    fs = flagged(nodes, "npm-scale-limit", target="cilium", source="npm")
    assert [(f.kind, f.severity) for f in fs] == [("Cluster", "warning")]
    assert [f.severity for f in flagged(nodes, "npm-scale-limit", target="npm", source="calico")] == ["error"]
    assert not flagged(nodes[:250], "npm-scale-limit", target="npm", source="calico")
    pods = [{"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "x"}} for i in range(20_001)]
    assert flagged(pods, "npm-scale-limit", target="npm", source="spec")
    assert not flagged(pods, "npm-scale-limit", target="cilium", source="calico")


def test_findings_are_json_ready_with_fix() -> None:
    objs = [netpol("deny", {"podSelector": {}, "policyTypes": ["Egress"]})]
    for f in analyze(objs, "npm", "cilium"):
        d = f.to_dict()
        assert {"rule", "kind", "namespace", "name", "severity", "message", "fix"} <= set(d)
        assert d["severity"] in ("error", "warning", "info") and d["fix"] and "\n" not in d["message"]
