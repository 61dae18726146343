"""``covers``: how ``restore`` reads a created object back -- everything of the backup must be there unchanged;
what the API server adds (defaults of its version) is not a difference."""

from __future__ import annotations

from netmig.kube.restore import covers

BACKED = {"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "policyTypes": ["Ingress"]},
          "metadata": {"name": "a", "labels": {"x": "1"}, "annotations": None}}


def test_server_defaults_are_not_a_difference() -> None:
    live = {"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}],
                     "policyTypes": ["Ingress"]}, "metadata": {"name": "a", "labels": {"x": "1"}}}
    assert covers(live, BACKED)


def test_a_dropped_or_changed_field_is() -> None:
    assert not covers({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}],
                                "policyTypes": ["Ingress"]}, "metadata": {"name": "a", "labels": {"x": "1"}}}, BACKED)
    assert not covers({"spec": {"podSelector": {}, "ingress": [], "policyTypes": ["Ingress"]},
                       "metadata": {"name": "a", "labels": {"x": "1"}}}, BACKED)
    assert not covers({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}],
                                "policyTypes": ["Ingress"]}, "metadata": {"name": "a"}}, BACKED)
    assert not covers({"spec": "x"}, {"spec": {"a": 1}}) and not covers([1, 2], [1])
