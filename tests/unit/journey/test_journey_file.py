"""The journey file's helpers that need no cluster: the profile a stage leaves, the approval text."""

from __future__ import annotations

from netmig.commands.journey import predicted_network
from netmig.model.cluster import NetworkProfile
from netmig.model.profiles import ProfileState as P


def test_the_profile_a_stage_leaves() -> None:
    npm = NetworkProfile(plugin="azure", policy="azure", service_cidr="10.0.0.0/16")
    cilium = predicted_network(npm, P.parse("azure-cni-cilium"), None)
    assert (cilium.policy, cilium.dataplane, cilium.plugin_mode, cilium.pod_cidr) == ("cilium", "cilium", None, None)
    overlay = predicted_network(cilium, P.parse("overlay-cilium"), "192.168.0.0/16")
    assert (overlay.plugin_mode, overlay.pod_cidr, overlay.service_cidr) == ("overlay", "192.168.0.0/16",
                                                                            "10.0.0.0/16")
    kubenet = NetworkProfile(plugin="kubenet", policy="calico", pod_cidr="10.244.0.0/16")
    kept = predicted_network(kubenet, P.parse("overlay-calico"), None)
    assert (kept.plugin, kept.plugin_mode, kept.pod_cidr, kept.policy) == ("azure", "overlay", "10.244.0.0/16",
                                                                          "calico")
    assert P.from_network(kept).name == "overlay-calico"
