"""Validation of managedCluster network-profile updates, the way AKS refuses them.

Contract:
- ``merge_profile(current, requested)``: the network profile a PUT asks for: ``current`` overlaid with the
  non-null fields of ``requested`` (a client that omits or nulls a field keeps the current value, like the
  GET-modify-PUT of ``az aks update``). No pod CIDR is made up: a node-subnet cluster moved to overlay without
  one is refused by the rules file (``PodCidrRequiredForOverlayMigration``), as AKS requires ``--pod-cidr``.
- ``reimage_fields(profile)``: the normalised fields whose change reimages every node
  (plugin, pluginMode, policy, dataplane, podCidr); ``network_changed(a, b)`` compares them.
- ``validate_network_update(current, target, ...)`` raises ``ArmError(400, code, message)`` for the first rule the
  transition breaks, or returns None. Codes (see ``CODES``) are stable: tests and the product match on them.

Rules (aks-migrations.md):
  InvalidParameter                          unknown plugin / policy / dataplane / pluginMode value
  PropertyChangeNotAllowed                  serviceCidr or dnsServiceIP changed
  CiliumDataplaneRequiresNetworkPolicyCilium   dataplane cilium without policy cilium
  NetworkPolicyCiliumRequiresCiliumDataplane   policy cilium without dataplane cilium
  CiliumDataplaneRequiresAzureCNI           dataplane cilium with networkPlugin kubenet
  CiliumDataplaneDowngradeNotSupported      cilium -> azure dataplane (irreversible)
  IPAMModeAndDataplaneUpdateNotAllowed      IPAM mode and dataplane changed in one PUT
  CiliumWindowsNodePoolsNotSupported        cilium with a Windows pool
  CiliumMigrationNotSupportedWithNodeAutoProvisioning   enabling cilium with nodeProvisioningProfile.mode Auto
  KubenetToAzureCNIRequiresOverlay          kubenet -> azure without networkPluginMode overlay
  OverlayMigrationNotReversible             overlay -> kubenet / node-subnet Azure CNI
  AzureCNIToKubenetMigrationNotSupported    node-subnet Azure CNI -> kubenet
  OverlayMigrationRequiresKubernetesVersion kubenet/node-subnet -> overlay on Kubernetes < 1.27
  OverlayMigrationAvailabilitySetNotSupported  -> overlay with an availability-set pool
  OverlayMigrationWithNetworkPolicyNotSupported node-subnet Azure CNI with azure/calico policy -> overlay
  KubenetCalicoToOverlayMigrationNotSupported  kubenet+calico -> overlay+calico when the scenario's
                                            arm_behaviour.block_kubenet_calico_to_overlay is true
  NetworkPolicyChangeNotSupported           azure <-> calico directly
  NetworkPolicyUpdateNotSupportedOnKubernetesVersion  azure/calico install or uninstall on Kubernetes < 1.30
  PodCidrChangeNotAllowed                   podCidr changed without an overlay migration
  PodCidrOverlap                            target podCidr (new, or kept by a migration to overlay) overlaps the
                                            service CIDR or the reserved 172.30.0.0/16 / 172.31.0.0/16 (name chosen
                                            by the sandbox)
  NetworkProfileCIDROverlapVNET             target podCidr (new, or kept by a migration to overlay) overlaps the
                                            VNet address space (``vnet_prefixes``, default the node subnet). The
                                            code and message are AKS's own (e.g. Azure/AKS-Construction#403:
                                            "NetworkProfile CIDR 10.240.100.0/24 overlaps with reserved VNET CIDR
                                            10.240.0.0/16", target networkProfile.podCIDR). Peered VNets are not
                                            checked by ARM (the docs only advise against overlapping them).
  UndocumentedNetworkProfileChange / NetworkPluginChangeNotSupported / PodCidrRequiredForOverlayMigration /
  any code of netmig/model/transitions.yaml
                                            after the checks above, the PUT is judged by the product's rules file
                                            (``profile_rules.judge_put``: constraints, refusals, documented
                                            transitions), so the sandbox refuses exactly the profile changes the
                                            model refuses (tests/unit/journey/test_sandbox_agreement.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from netmig_sandbox.arm.profile_rules import judge_put
from netmig_sandbox.arm.state import ArmError
from netmig_sandbox.sim.topology import DEFAULT_POD_CIDR, NODE_SUBNET

REIMAGE_FIELDS = ("networkPlugin", "networkPluginMode", "networkPolicy", "networkDataplane", "podCidr")
DOCS = "https://aka.ms/aks/network-migrations"

CODES = (
    "InvalidParameter", "PropertyChangeNotAllowed", "CiliumDataplaneRequiresNetworkPolicyCilium",
    "NetworkPolicyCiliumRequiresCiliumDataplane", "CiliumDataplaneRequiresAzureCNI",
    "CiliumDataplaneDowngradeNotSupported", "IPAMModeAndDataplaneUpdateNotAllowed",
    "CiliumWindowsNodePoolsNotSupported", "CiliumMigrationNotSupportedWithNodeAutoProvisioning",
    "KubenetToAzureCNIRequiresOverlay", "OverlayMigrationNotReversible", "AzureCNIToKubenetMigrationNotSupported",
    "OverlayMigrationRequiresKubernetesVersion", "OverlayMigrationAvailabilitySetNotSupported",
    "OverlayMigrationWithNetworkPolicyNotSupported", "KubenetCalicoToOverlayMigrationNotSupported",
    "NetworkPolicyChangeNotSupported", "NetworkPolicyUpdateNotSupportedOnKubernetesVersion",
    "PodCidrChangeNotAllowed", "PodCidrOverlap", "NetworkProfileCIDROverlapVNET",
    "UndocumentedNetworkProfileChange", "NetworkPluginChangeNotSupported", "PodCidrRequiredForOverlayMigration",
)


def merge_profile(current: dict[str, Any], requested: dict[str, Any] | None) -> dict[str, Any]:
    """``current`` overlaid with the non-null fields of ``requested`` (a new dict)."""
    out = dict(current)
    for k, v in (requested or {}).items():
        if v is not None:
            out[k] = v
    if out.get("podCidr"):
        # dual-stack: the IPv4 pod CIDR is podCidr; the other family's CIDRs are kept
        v4 = ipaddress.ip_network(str(out["podCidr"]), strict=False).version if _is_cidr(out["podCidr"]) else 4
        others = [c for c in out.get("podCidrs") or [] if _is_cidr(c)
                  and ipaddress.ip_network(str(c), strict=False).version != v4]
        out["podCidrs"] = [out["podCidr"], *others]
    if out.get("networkPlugin") == "azure" and not out.get("networkDataplane"):
        out["networkDataplane"] = "azure"
    return out


def _is_cidr(value: Any) -> bool:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return True


def reimage_fields(p: dict[str, Any]) -> dict[str, str]:
    """Normalised (plugin, pluginMode, policy, dataplane, podCidr): absent -> "", null policy -> "none"."""
    plugin = str(p.get("networkPlugin") or "azure")
    mode = str(p.get("networkPluginMode") or "")
    uses_cidr = plugin == "kubenet" or mode == "overlay"
    return {
        "networkPlugin": plugin,
        "networkPluginMode": mode,
        "networkPolicy": str(p.get("networkPolicy") or "none"),
        "networkDataplane": str(p.get("networkDataplane") or "azure"),
        "podCidr": str(p.get("podCidr") or DEFAULT_POD_CIDR) if uses_cidr else "",
    }


def network_changed(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return reimage_fields(a) != reimage_fields(b)


def _version_tuple(v: str) -> tuple[int, ...]:
    parts = []
    for x in v.split(".")[:3]:
        digits = "".join(ch for ch in x if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _ipam(f: dict[str, str]) -> str:
    """kubenet | overlay | nodesubnet | none."""
    if f["networkPlugin"] == "kubenet":
        return "kubenet"
    if f["networkPlugin"] == "azure":
        return "overlay" if f["networkPluginMode"] == "overlay" else "nodesubnet"
    return f["networkPlugin"]


def validate_network_update(
    current: dict[str, Any],
    target: dict[str, Any],
    *,
    kubernetes_version: str,
    pools: list[dict[str, Any]],
    node_provisioning_mode: str = "Manual",
    behaviour: dict[str, Any] | None = None,
    vnet_prefixes: list[str] | None = None,
) -> None:
    """Raise ``ArmError(400, code, message)`` if AKS would refuse moving from ``current`` to ``target``.

    ``pools`` are agentPool ``properties`` dicts (``osType``, ``type``, ...), each with a ``name``;
    ``vnet_prefixes`` the address space of the nodes' VNet (default: the node subnet only).
    """
    behaviour = behaviour or {}
    old, new = reimage_fields(current), reimage_fields(target)
    # --- values
    if new["networkPlugin"] not in ("azure", "kubenet", "none"):
        raise _bad("InvalidParameter", f"The value '{new['networkPlugin']}' of parameter "
                   "'networkProfile.networkPlugin' is invalid. Allowed values are 'azure', 'kubenet', 'none'.")
    if new["networkPluginMode"] not in ("", "overlay"):
        raise _bad("InvalidParameter", f"The value '{new['networkPluginMode']}' of parameter "
                   "'networkProfile.networkPluginMode' is invalid. Allowed values are 'overlay'.")
    if new["networkPolicy"] not in ("azure", "calico", "cilium", "none"):
        raise _bad("InvalidParameter", f"The value '{new['networkPolicy']}' of parameter "
                   "'networkProfile.networkPolicy' is invalid. Allowed values are 'azure', 'calico', 'cilium', "
                   "'none'.")
    if new["networkDataplane"] not in ("azure", "cilium"):
        raise _bad("InvalidParameter", f"The value '{new['networkDataplane']}' of parameter "
                   "'networkProfile.networkDataplane' is invalid. Allowed values are 'azure', 'cilium'.")
    for prop in ("serviceCidr", "dnsServiceIP"):
        if target.get(prop) and current.get(prop) and target[prop] != current[prop]:
            raise ArmError(400, "PropertyChangeNotAllowed",
                           f"Changing property 'networkProfile.{prop}' is not allowed.")
    if old == new:
        return

    # --- cilium pairing
    if new["networkDataplane"] == "cilium" and new["networkPolicy"] != "cilium":
        raise _bad("CiliumDataplaneRequiresNetworkPolicyCilium",
                   "Network dataplane 'cilium' requires network policy 'cilium'. Set networkPolicy to 'cilium' "
                   "in the same request (az aks update --network-dataplane cilium --network-policy cilium).")
    if new["networkPolicy"] == "cilium" and new["networkDataplane"] != "cilium":
        raise _bad("NetworkPolicyCiliumRequiresCiliumDataplane",
                   "Network policy 'cilium' requires network dataplane 'cilium'. Set networkDataplane to "
                   "'cilium' in the same request.")
    if new["networkDataplane"] == "cilium" and new["networkPlugin"] != "azure":
        raise _bad("CiliumDataplaneRequiresAzureCNI",
                   f"Network dataplane 'cilium' requires network plugin 'azure' (Azure CNI); the cluster uses "
                   f"'{new['networkPlugin']}'. Migrate to Azure CNI Overlay first.")
    if old["networkDataplane"] == "cilium" and new["networkDataplane"] != "cilium":
        raise _bad("CiliumDataplaneDowngradeNotSupported",
                   "Updating the network dataplane from 'cilium' to 'azure' is not supported.")

    ipam_changed = _ipam(old) != _ipam(new)
    dataplane_changed = old["networkDataplane"] != new["networkDataplane"]
    if ipam_changed and dataplane_changed:
        raise _bad("IPAMModeAndDataplaneUpdateNotAllowed",
                   "Updating the IPAM mode (networkPlugin / networkPluginMode) and the network dataplane in the "
                   "same operation is not supported. Update them in two separate operations.")
    if dataplane_changed and new["networkDataplane"] == "cilium":
        windows = [p.get("name", "?") for p in pools if (p.get("osType") or "Linux") == "Windows"]
        if windows:
            raise _bad("CiliumWindowsNodePoolsNotSupported",
                       "Azure CNI Powered by Cilium does not support Windows node pools; remove node pool(s) "
                       f"{', '.join(windows)} before updating the network dataplane to 'cilium'.")
        if (node_provisioning_mode or "Manual") == "Auto":
            raise _bad("CiliumMigrationNotSupportedWithNodeAutoProvisioning",
                       "Updating the network dataplane is not supported while node auto-provisioning "
                       "(nodeProvisioningProfile.mode 'Auto') is enabled.")

    # --- IPAM mode
    if ipam_changed:
        o, n = _ipam(old), _ipam(new)
        if o == "kubenet" and n == "nodesubnet":
            raise _bad("KubenetToAzureCNIRequiresOverlay",
                       "Migrating from kubenet to Azure CNI is only supported with networkPluginMode 'overlay'.")
        if o == "overlay":
            raise _bad("OverlayMigrationNotReversible",
                       f"Migrating from Azure CNI Overlay to '{n}' is not supported: the migration to Azure CNI "
                       "Overlay is irreversible.")
        if o == "nodesubnet" and n == "kubenet":
            raise _bad("AzureCNIToKubenetMigrationNotSupported",
                       "Migrating from Azure CNI to kubenet is not supported.")
        if n == "overlay":
            if _version_tuple(kubernetes_version) < (1, 27):
                raise _bad("OverlayMigrationRequiresKubernetesVersion",
                           f"Migrating to Azure CNI Overlay requires Kubernetes version 1.27 or later; the cluster "
                           f"runs {kubernetes_version}. Upgrade the cluster first.")
            avset = [p.get("name", "?") for p in pools if p.get("type") == "AvailabilitySet"]
            if avset:
                raise _bad("OverlayMigrationAvailabilitySetNotSupported",
                           f"Migrating to Azure CNI Overlay is not supported with availability set node pools: "
                           f"{', '.join(avset)}.")
            if o == "nodesubnet" and old["networkPolicy"] in ("azure", "calico"):
                raise _bad("OverlayMigrationWithNetworkPolicyNotSupported",
                           f"Migrating from Azure CNI to Azure CNI Overlay with network policy "
                           f"'{old['networkPolicy']}' is not supported. Update the network policy to 'none' "
                           "first.")
            if (o == "kubenet" and old["networkPolicy"] == "calico" and new["networkPolicy"] == "calico"
                    and behaviour.get("block_kubenet_calico_to_overlay")):
                raise _bad("KubenetCalicoToOverlayMigrationNotSupported",
                           "Migrating a kubenet cluster with network policy 'calico' to Azure CNI Overlay is not "
                           "supported. Update the network policy to 'none', migrate to Azure CNI Overlay, then "
                           "enable network policy 'calico' again.")

    # --- network policy engine
    op, np = old["networkPolicy"], new["networkPolicy"]
    if op != np and "cilium" not in (op, np):
        if op != "none" and np != "none":
            raise _bad("NetworkPolicyChangeNotSupported",
                       f"Updating the network policy from '{op}' to '{np}' is not supported. Update it to "
                       "'none' first.")
        if _version_tuple(kubernetes_version) < (1, 30):
            action = "Uninstalling" if np == "none" else "Installing"
            engine = op if np == "none" else np
            raise _bad("NetworkPolicyUpdateNotSupportedOnKubernetesVersion",
                       f"{action} network policy '{engine}' is not supported on Kubernetes version "
                       f"{kubernetes_version}; it requires Kubernetes 1.30 or later. Upgrade the cluster first.")

    # --- the rules file (netmig/model/transitions.yaml): every profile change AKS does not document is refused
    refused = judge_put(current, target)
    if refused:
        raise _bad(*refused)

    # --- pod CIDR
    to_overlay = ipam_changed and _ipam(new) == "overlay"
    cidr_changed = bool(new["podCidr"]) and old["podCidr"] != new["podCidr"]
    if cidr_changed and old["podCidr"] and not to_overlay:
        raise _bad("PodCidrChangeNotAllowed",
                   "Changing property 'networkProfile.podCidr' is only allowed when migrating to Azure CNI "
                   "Overlay.")
    if new["podCidr"] and (cidr_changed or to_overlay):
        try:
            pod_net = ipaddress.ip_network(new["podCidr"])
        except ValueError:
            raise _bad("InvalidParameter",
                       f"The value '{new['podCidr']}' of parameter 'networkProfile.podCidr' is not a valid "
                       "CIDR.") from None
        for vnet in vnet_prefixes or [NODE_SUBNET]:
            vnet_net = ipaddress.ip_network(vnet, strict=False)
            if vnet_net.version == pod_net.version and pod_net.overlaps(vnet_net):
                raise _bad("NetworkProfileCIDROverlapVNET",
                           f"NetworkProfile CIDR {new['podCidr']} overlaps with reserved VNET CIDR {vnet}. Choose a "
                           "pod CIDR (networkProfile.podCidr) outside the virtual network's address space.")
        others = ["172.30.0.0/16", "172.31.0.0/16"]
        if target.get("serviceCidr"):
            others.append(str(target["serviceCidr"]))
        for other in others:
            if pod_net.overlaps(ipaddress.ip_network(other)):
                raise _bad("PodCidrOverlap",
                           f"The pod CIDR {new['podCidr']} overlaps with {other}. Choose a pod CIDR that does not "
                           "overlap the virtual network, the service CIDR or 172.30.0.0/16 / 172.31.0.0/16.")
