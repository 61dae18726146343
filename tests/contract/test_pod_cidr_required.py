"""Azure CNI (node subnet) -> Azure CNI Overlay needs a pod CIDR: the sandbox's ARM refuses the PUT without one,
as AKS does, with the rule of netmig/model/transitions.yaml (``pod_cidr_required``), over the wire through the REAL
``ContainerServiceClient`` (GET-modify-PUT, like ``az aks update --network-plugin-mode overlay`` without
``--pod-cidr``); with a pod CIDR the same PUT is accepted and the cluster ends on overlay with that CIDR.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from netmig.model.transition_rules import load_rules
from tests.contract.arm_fixtures import arm_sandbox, client, requests

__all__ = ["arm_sandbox"]

pytestmark = pytest.mark.contract


def test_node_subnet_to_overlay_without_a_pod_cidr_is_refused_with_the_rules_message(arm_sandbox: Any) -> None:
    need = load_rules().pod_cidr_required
    assert need is not None
    sb = arm_sandbox("azure-cni")
    c = client(sb)
    rg, name = sb.info["resource_group"], sb.info["cluster_name"]
    mc = c.managed_clusters.get(rg, name)
    assert mc.network_profile.network_plugin == "azure" and not mc.network_profile.network_plugin_mode
    assert not mc.network_profile.pod_cidr
    mc.network_profile.network_plugin_mode = "overlay"
    with pytest.raises(HttpResponseError) as e:
        c.managed_clusters.begin_create_or_update(rg, name, mc)
    assert e.value.status_code == 400
    assert e.value.error is not None
    assert e.value.error.code == need.code == "PodCidrRequiredForOverlayMigration"
    assert e.value.error.message == need.message
    assert "--pod-cidr" in str(e.value)
    after = c.managed_clusters.get(rg, name)
    assert after.provisioning_state == "Succeeded" and not after.network_profile.network_plugin_mode

    mc = c.managed_clusters.get(rg, name)
    mc.network_profile.network_plugin_mode = "overlay"
    mc.network_profile.pod_cidr = "192.168.0.0/16"
    done = c.managed_clusters.begin_create_or_update(rg, name, mc).result(timeout=120)
    assert done.network_profile.network_plugin_mode == "overlay"
    assert done.network_profile.pod_cidr == "192.168.0.0/16"
    puts = [r for r in requests(sb) if r["method"] == "PUT" and "/agentPools/" not in r["path"]]
    assert [r["status"] for r in puts] == [400, 200]
