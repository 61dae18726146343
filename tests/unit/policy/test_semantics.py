"""NetworkPolicy corner cases from the reference list, one test per case (spec profile unless named)."""

from __future__ import annotations

import json

from netmig.policy import Evaluator, External, from_objects, get_engine
from tests.unit.policy.helpers import can, netpol, node, ns, pod, svc

A = {"app": "a"}
B = {"app": "b"}


def two_pods(*extra: dict, ports=(("http", 80, "TCP"),)) -> list[dict]:
    return [ns("x"), pod("a", labels=A, ip="10.0.0.1", ports=ports), pod("b", labels=B, ip="10.0.0.2", ports=ports),
            *extra]


DENY_INGRESS_B = netpol("deny-b", {"podSelector": {"matchLabels": B}, "policyTypes": ["Ingress"]})


def test_no_policy_allows_everything() -> None:
    assert can(two_pods(), "x/a", "x/b")


def test_per_direction_isolation_ingress_policy_does_not_restrict_egress() -> None:
    objs = two_pods(netpol("deny-a-in", {"podSelector": {"matchLabels": A}, "policyTypes": ["Ingress"]}))
    assert can(objs, "x/a", "x/b")  # a's egress is not isolated
    assert not can(objs, "x/b", "x/a")


def test_verdict_requires_egress_of_source_and_ingress_of_destination() -> None:
    deny_egress_a = netpol("deny-a-out", {"podSelector": {"matchLabels": A}, "policyTypes": ["Egress"]})
    assert not can(two_pods(deny_egress_a), "x/a", "x/b")
    assert not can(two_pods(DENY_INGRESS_B), "x/a", "x/b")
    allow_out = netpol("a-out", {"podSelector": {"matchLabels": A}, "egress": [{}]})
    assert not can(two_pods(allow_out, DENY_INGRESS_B), "x/a", "x/b")


def test_policytypes_default_ingress_always() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}}))  # no policyTypes, no rules
    assert not can(objs, "x/a", "x/b")


def test_policytypes_default_egress_only_when_egress_present() -> None:
    empty_egress = netpol("p", {"podSelector": {"matchLabels": A}, "ingress": [{}], "egress": []})
    assert can(two_pods(empty_egress), "x/a", "x/b")  # egress: [] -> not an Egress policy
    with_rule = netpol("p", {"podSelector": {"matchLabels": A}, "ingress": [{}],
                             "egress": [{"ports": [{"port": 443}]}]})
    assert not can(two_pods(with_rule), "x/a", "x/b")
    assert from_objects([with_rule]).policies[0].affects_egress


def test_explicit_egress_policytype_without_rules_denies_all_egress() -> None:
    objs = two_pods(netpol("p", {"podSelector": {}, "policyTypes": ["Egress"]}))
    assert not can(objs, "x/a", "x/b")
    assert can([*objs, pod("c", "y", ip="10.0.0.3")], "y/c", "x/b")  # ingress untouched


def test_podselector_empty_selects_all_in_namespace() -> None:
    objs = two_pods(netpol("deny", {"podSelector": {}}), pod("c", "y", ip="10.0.0.3"))
    assert not can(objs, "x/a", "x/b")
    assert not can(objs, "x/b", "x/a")
    assert can(objs, "x/a", "y/c")  # other namespace not selected


def test_ingress_missing_with_ingress_type_denies_all() -> None:
    assert not can(two_pods(DENY_INGRESS_B), "x/a", "x/b")


def test_ingress_empty_list_denies_all() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": []}))
    assert not can(objs, "x/a", "x/b")


def test_ingress_rule_empty_object_allows_all() -> None:
    objs = two_pods(DENY_INGRESS_B, netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{}]}))
    assert can(objs, "x/a", "x/b")


def test_empty_from_allows_all_peers_including_external() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B},
                                 "ingress": [{"from": [], "ports": [{"port": 80}]}]}))
    assert can(objs, "x/a", "x/b")
    c = from_objects(objs)
    v = Evaluator(c, get_engine("spec")).allowed(External("8.8.8.8"), c.pod_by_key["x/b"], 80, "TCP")
    assert v.allowed


def test_empty_ports_allows_all_ports() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"from": [{"podSelector": {}}],
                                                                                  "ports": []}]}))
    assert can(objs, "x/a", "x/b", 80)
    assert can(objs, "x/a", "x/b", 5000, "UDP")


def test_protocol_only_port_matches_every_port_of_protocol() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"ports": [{"protocol": "UDP"}]}]}))
    assert can(objs, "x/a", "x/b", 53, "UDP")
    assert can(objs, "x/a", "x/b", 9999, "UDP")
    assert not can(objs, "x/a", "x/b", 53, "TCP")


def test_protocol_defaults_to_tcp() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"ports": [{"port": 80}]}]}))
    assert can(objs, "x/a", "x/b", 80, "TCP")
    assert not can(objs, "x/a", "x/b", 80, "UDP")
    empty_port = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"ports": [{}]}]}))
    assert can(empty_port, "x/a", "x/b", 81, "TCP")
    assert not can(empty_port, "x/a", "x/b", 81, "UDP")


def _cross_ns(peers: list[dict]) -> list[dict]:
    return [ns("x"), ns("y", team="blue"), ns("z", team="red"),
            pod("b", labels=B, ip="10.0.0.2"),
            pod("ya", "y", labels=A, ip="10.0.1.1"), pod("yc", "y", labels={"app": "c"}, ip="10.0.1.2"),
            pod("za", "z", labels=A, ip="10.0.2.1"),
            netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"from": peers}]})]


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    objs = _cross_ns([{"namespaceSelector": {"matchLabels": {"team": "blue"}}, "podSelector": {"matchLabels": A}}])
    assert can(objs, "y/ya", "x/b")
    assert not can(objs, "y/yc", "x/b")  # right namespace, wrong pod
    assert not can(objs, "z/za", "x/b")  # right pod, wrong namespace


def test_separate_peers_are_ored() -> None:
    objs = _cross_ns([{"namespaceSelector": {"matchLabels": {"team": "blue"}}}, {"podSelector": {"matchLabels": A}}])
    assert can(objs, "y/ya", "x/b")
    assert can(objs, "y/yc", "x/b")  # any pod of namespace y
    assert not can(objs, "z/za", "x/b")  # podSelector alone means the policy's own namespace


def test_peer_pod_selector_without_namespace_selector_means_policy_namespace() -> None:
    objs = [*_cross_ns([{"podSelector": {}}]), pod("xa", labels=A, ip="10.0.0.5")]
    assert can(objs, "x/xa", "x/b")
    assert not can(objs, "y/ya", "x/b")


def test_namespace_selector_empty_matches_all_namespaces() -> None:
    objs = _cross_ns([{"namespaceSelector": {}}])
    assert can(objs, "y/yc", "x/b") and can(objs, "z/za", "x/b")


def test_namespace_matched_by_metadata_name_label() -> None:
    objs = _cross_ns([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}])
    assert can(objs, "z/za", "x/b")
    assert not can(objs, "y/ya", "x/b")


def _expr_objs(expr: dict) -> list[dict]:
    return [ns("x"), pod("b", labels=B, ip="10.0.0.2"),
            pod("blue", labels={"color": "blue"}, ip="10.0.0.3"), pod("red", labels={"color": "red"}, ip="10.0.0.4"),
            pod("none", labels={}, ip="10.0.0.5"),
            netpol("p", {"podSelector": {"matchLabels": B},
                         "ingress": [{"from": [{"podSelector": {"matchExpressions": [expr]}}]}]})]


def test_match_expressions_in() -> None:
    objs = _expr_objs({"key": "color", "operator": "In", "values": ["blue"]})
    assert [can(objs, f"x/{p}", "x/b") for p in ("blue", "red", "none")] == [True, False, False]


def test_match_expressions_notin_matches_pods_lacking_key() -> None:
    objs = _expr_objs({"key": "color", "operator": "NotIn", "values": ["blue"]})
    assert [can(objs, f"x/{p}", "x/b") for p in ("blue", "red", "none")] == [False, True, True]


def test_match_expressions_exists() -> None:
    objs = _expr_objs({"key": "color", "operator": "Exists"})
    assert [can(objs, f"x/{p}", "x/b") for p in ("blue", "red", "none")] == [True, True, False]


def test_match_expressions_doesnotexist_matches_pods_lacking_key() -> None:
    objs = _expr_objs({"key": "color", "operator": "DoesNotExist"})
    assert [can(objs, f"x/{p}", "x/b") for p in ("blue", "red", "none")] == [False, False, True]


def _ipblock_objs(block: dict, direction: str = "ingress") -> list[dict]:
    if direction == "ingress":
        pol = netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"from": [{"ipBlock": block}]}]})
    else:
        pol = netpol("p", {"podSelector": {"matchLabels": A}, "egress": [{"to": [{"ipBlock": block}]}]})
    return [node("n1"), pod("a", labels=A, ip="10.0.0.1"), pod("b", labels=B, ip="10.0.0.2"),
            pod("c", labels={"app": "c"}, ip="10.0.0.9"), pod("h", labels=B, host=True, node="n1"), pol]


def test_ipblock_except() -> None:
    objs = _ipblock_objs({"cidr": "10.0.0.0/24", "except": ["10.0.0.8/29"]})
    assert can(objs, "x/a", "x/b")
    assert not can(objs, "x/c", "x/b")  # 10.0.0.9 is in the except range
    c = from_objects(objs)
    ev = Evaluator(c, get_engine("spec"))
    assert ev.allowed(External("10.0.0.77"), c.pod_by_key["x/b"], 80, "TCP").allowed
    assert not ev.allowed(External("10.0.0.10"), c.pod_by_key["x/b"], 80, "TCP").allowed


def test_ipblock_matches_pod_ips_under_spec_not_cilium() -> None:
    objs = _ipblock_objs({"cidr": "10.0.0.0/24"})
    assert can(objs, "x/a", "x/b", engine="spec")
    assert can(objs, "x/a", "x/b", engine="npm")
    assert can(objs, "x/a", "x/b", engine="calico")
    assert not can(objs, "x/a", "x/b", engine="cilium")
    egress = _ipblock_objs({"cidr": "10.0.0.0/24"}, "egress")
    assert can(egress, "x/a", "x/b", engine="spec") and not can(egress, "x/a", "x/b", engine="cilium")


def test_ipblock_never_matches_pod_or_node_ips_under_cilium_even_0_0_0_0() -> None:
    objs = _ipblock_objs({"cidr": "0.0.0.0/0"}, "egress")
    assert not can(objs, "x/a", "x/b", engine="cilium")
    assert not can(objs, "x/a", "x/h", engine="cilium")  # hostNetwork pod = node IP
    assert can(objs, "x/a", "x/h", engine="spec")
    c = from_objects(objs)
    ev = Evaluator(c, get_engine("cilium"))
    assert ev.allowed(c.pod_by_key["x/a"], External("8.8.8.8"), 443, "TCP").allowed
    assert not ev.allowed(c.pod_by_key["x/a"], c.nodes["n1"], 10250, "TCP").allowed


def test_rules_are_ored() -> None:
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"app": "zzz"}}}]}, {"ports": [{"port": 80}]}]}))
    assert can(objs, "x/a", "x/b", 80)
    assert not can(objs, "x/a", "x/b", 81)


def test_multiple_policies_selecting_a_pod_are_a_union() -> None:
    objs = two_pods(netpol("p1", {"podSelector": {"matchLabels": B}, "ingress": [{"ports": [{"port": 80}]}]}),
                    netpol("p2", {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}]}))
    assert can(objs, "x/a", "x/b", 80) and can(objs, "x/a", "x/b", 81)
    assert not can(objs, "x/a", "x/b", 82)


def _range_objs() -> list[dict]:
    return two_pods(netpol("p", {"podSelector": {"matchLabels": B},
                                 "ingress": [{"ports": [{"port": 8000, "endPort": 8010}]}]}))


def test_endport_range_inclusive() -> None:
    objs = _range_objs()
    assert [can(objs, "x/a", "x/b", p) for p in (7999, 8000, 8005, 8010, 8011)] == [False, True, True, True, False]


def test_endport_ignored_before_cilium_1_17() -> None:
    objs = _range_objs()
    assert can(objs, "x/a", "x/b", 8005, engine="cilium", cilium_version="1.17")
    assert not can(objs, "x/a", "x/b", 8005, engine="cilium", cilium_version="1.16")
    assert can(objs, "x/a", "x/b", 8000, engine="cilium", cilium_version="1.16")


def _named_objs(direction: str = "ingress") -> list[dict]:
    pol = netpol("p", {"podSelector": {}, "ingress": [{"ports": [{"port": "web"}]}]}) if direction == "ingress" \
        else netpol("p", {"podSelector": {"matchLabels": A}, "egress": [{"ports": [{"port": "web"}]}]})
    return [ns("x"), pod("a", labels=A, ip="10.0.0.1", ports=[("web", 80, "TCP")]),
            pod("b", labels=B, ip="10.0.0.2", ports=[("web", 8080, "TCP"), (None, 80, "TCP")]),
            pod("u", labels={"app": "u"}, ip="10.0.0.3", ports=[("web", 53, "UDP")]), pol]


def test_named_port_resolved_per_destination_pod() -> None:
    objs = _named_objs()
    assert can(objs, "x/b", "x/a", 80)
    assert can(objs, "x/a", "x/b", 8080)
    assert not can(objs, "x/a", "x/b", 80)  # b serves 80, but not under the name "web"
    egress = _named_objs("egress")
    assert can(egress, "x/a", "x/b", 8080) and not can(egress, "x/a", "x/b", 80)


def test_named_port_matches_name_and_protocol() -> None:
    objs = _named_objs()
    assert not can(objs, "x/a", "x/u", 53, "UDP")  # policy port protocol defaults to TCP
    udp_pol = netpol("p", {"podSelector": {}, "ingress": [{"ports": [{"port": "web", "protocol": "UDP"}]}]})
    udp = [*objs[:-1], udp_pol]
    assert can(udp, "x/a", "x/u", 53, "UDP")
    assert not can(udp, "x/b", "x/a", 80, "TCP")


def test_named_port_cilium_lowest_number_model() -> None:
    """cilium #30003 model: one number per policy (the lowest the selected pods declare) -> the 8080 pod is denied."""
    objs = _named_objs()
    assert can(objs, "x/b", "x/a", 80, engine="cilium")
    assert not can(objs, "x/a", "x/b", 8080, engine="cilium")
    assert can(objs, "x/a", "x/b", 80, engine="cilium")  # the resolved number, whatever name b gives it


def test_sctp_and_udp_distinct_from_tcp() -> None:
    ports = ((None, 80, "TCP"), (None, 80, "UDP"), (None, 80, "SCTP"))
    objs = two_pods(netpol("p", {"podSelector": {"matchLabels": B}, "ingress": [{"ports": [
        {"port": 80, "protocol": "SCTP"}]}]}), ports=ports)
    assert can(objs, "x/a", "x/b", 80, "SCTP")
    assert not can(objs, "x/a", "x/b", 80, "TCP")
    assert not can(objs, "x/a", "x/b", 80, "UDP")


def test_hostnetwork_pod_not_policed_and_not_selected() -> None:
    objs = [ns("x"), node("n1"), node("n2"), pod("a", labels=A, ip="10.0.0.1", node="n1"),
            pod("h", labels=B, host=True, node="n2"),
            netpol("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            netpol("allow-b", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": B}}]}]})]
    assert not can(objs, "x/a", "x/h")  # a's egress is isolated (the host pod's ingress is not policed)
    assert not can(objs, "x/h", "x/a")  # from another node: a podSelector never matches a hostNetwork pod
    opened = [*objs, netpol("a-out", {"podSelector": {}, "egress": [{}]})]
    assert can(opened, "x/a", "x/h")


def test_traffic_to_self_always_allowed() -> None:
    objs = two_pods(netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    for engine in ("spec", "npm", "cilium", "calico"):
        assert can(objs, "x/a", "x/a", engine=engine)
        assert not can(objs, "x/a", "x/b", engine=engine)


def test_node_local_traffic_always_allowed() -> None:
    objs = [ns("x"), node("n1"), node("n2"), pod("a", labels=A, ip="10.0.0.1", node="n1"),
            pod("h1", host=True, node="n1"), pod("h2", host=True, node="n2"),
            netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress"]})]
    for engine in ("spec", "npm", "cilium", "calico"):
        assert can(objs, "x/h1", "x/a", engine=engine)  # kubelet-like traffic from a's own node
        assert not can(objs, "x/h2", "x/a", engine=engine)
    c = from_objects(objs)
    v = Evaluator(c, get_engine("cilium")).allowed(c.nodes["n1"], c.pod_by_key["x/a"], 8080, "TCP")
    assert v.allowed and v.ingress.note == "node-local"


def test_npm_allows_egress_to_own_node_cilium_does_not() -> None:
    objs = [ns("x"), node("n1"), node("n2"), pod("a", labels=A, ip="10.0.0.1", node="n1"),
            pod("h1", host=True, node="n1"), pod("h2", host=True, node="n2"),
            netpol("deny-out", {"podSelector": {}, "policyTypes": ["Egress"]})]
    assert can(objs, "x/a", "x/h1", engine="npm")
    assert not can(objs, "x/a", "x/h2", engine="npm")  # only the pod's own node
    assert not can(objs, "x/a", "x/h1", engine="cilium")
    assert not can(objs, "x/a", "x/h1", engine="spec")
    c = from_objects(objs)
    v = Evaluator(c, get_engine("npm")).allowed(c.pod_by_key["x/a"], c.nodes["n1"], 10250, "TCP")
    assert v.allowed and v.egress.note == "own-node"


def test_lb_cluster_etp_bypasses_ingress_under_npm_only() -> None:
    objs = two_pods(DENY_INGRESS_B, svc("lb", B), svc("local", B, etp="Local"), svc("cip", B, type_="ClusterIP"))
    c = from_objects(objs)
    services = {s.name: s for s in c.services}
    client, dst = External("203.0.113.7"), c.pod_by_key["x/b"]
    npm, cilium = Evaluator(c, get_engine("npm")), Evaluator(c, get_engine("cilium"))
    assert npm.allowed(client, dst, 80, "TCP", via=services["lb"]).allowed
    assert npm.allowed(client, dst, 80, "TCP", via=services["lb"]).ingress.note == "service-bypass"
    assert not npm.allowed(client, dst, 80, "TCP", via=services["local"]).allowed
    assert not npm.allowed(client, dst, 80, "TCP", via=services["cip"]).allowed
    assert not cilium.allowed(client, dst, 80, "TCP", via=services["lb"]).allowed


def test_calico_profile_equals_spec() -> None:
    assert get_engine("calico").ipblock_matches_cluster_ips == get_engine("spec").ipblock_matches_cluster_ips
    from dataclasses import replace
    assert replace(get_engine("calico"), name="spec") == get_engine("spec")


def test_verdict_explains_policies_and_is_json_serialisable() -> None:
    objs = two_pods(DENY_INGRESS_B, netpol("allow", {"podSelector": {"matchLabels": B}, "ingress": [
        {"from": [{"podSelector": {"matchLabels": A}}]}]}))
    c = from_objects(objs)
    v = Evaluator(c, get_engine("spec")).allowed(c.pod_by_key["x/a"], c.pod_by_key["x/b"], 80, "TCP")
    assert v.allowed and v.ingress.allowing == ("x/allow",)
    assert set(v.ingress.selecting) == {"x/allow", "x/deny-b"}
    assert v.egress.note == "not-isolated"
    assert json.loads(json.dumps(v.to_dict()))["responsible"] == ["x/allow"]
    v2 = Evaluator(c, get_engine("spec")).allowed(c.pod_by_key["x/b"], c.pod_by_key["x/b"], 80, "TCP")
    assert v2.ingress.note == "self"
