"""Engine profiles: each is the upstream NetworkPolicy reading (``spec``) plus a small declared set of differences.

Common model (all profiles)
  * A pod->pod cell is allowed iff egress(src) AND ingress(dst) allow it. A direction is unrestricted unless some
    policy of that type selects the pod; then some rule of a selecting policy must match peer and port.
  * Traffic to self (a pod to its own IP) never leaves the pod's network namespace: always allowed.
  * Node-local traffic (from the node hosting the destination pod, e.g. kubelet probes) is always allowed.
  * hostNetwork pods are node traffic: they are not policed (neither their ingress nor their egress), selectors never
    match them, and their address is the node's address (an ipBlock sees the node IP).
  * Malformed policies are ignored for evaluation (the API server would have rejected them) and reported.

Differences
  ``spec``    upstream conformance reading (cyclonus / k8s e2e): ipBlock also matches pod and node IPs.
  ``npm``     spec + egress from a pod to its own node's IP is implicitly allowed (ACN #2786) + traffic arriving
              through a LoadBalancer/NodePort service with externalTrafficPolicy=Cluster bypasses ingress policy.
  ``cilium``  ipBlock never matches pod or node IPs, even 0.0.0.0/0 (use selectors / toEntities); endPort honoured
              only from Cilium 1.17 (``cilium_version``; before that a range collapses to its first port); no implicit
              own-node egress; eTP=Cluster service traffic is subject to ingress policy.
              Named ports (cilium #30003) -- model chosen: a named port in a policy resolves to ONE number per policy
              and direction: for ingress the lowest number that the pods selected by the policy declare for that
              name+protocol; for egress the lowest number any pod in the cluster declares for it. Pods that serve the
              name on another number are therefore denied. A name no pod declares matches nothing.
  ``calico``  spec semantics; no differences implemented (Calico's ipBlock matches pod IPs, host->local pod traffic
              is allowed by default, named ports resolve per pod).
  ``none``    no policy engine (AKS network policy ``none``): NetworkPolicies exist but nothing enforces them, so
              every cell is allowed (``enforces`` False); the state during and after an uninstall.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINE_NAMES = ("spec", "npm", "cilium", "calico", "none")


@dataclass(frozen=True)
class EngineProfile:
    """The knobs that distinguish engines. ``named_port_model``: ``per-pod`` (spec) or ``lowest-per-policy``."""

    name: str
    ipblock_matches_cluster_ips: bool = True
    own_node_egress_allowed: bool = False
    lb_cluster_etp_bypasses_ingress: bool = False
    endport_supported: bool = True
    named_port_model: str = "per-pod"
    self_traffic_allowed: bool = True
    version: str | None = None
    enforces: bool = True  # False: no engine (NetworkPolicies are ignored)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}" if self.version else self.name


def _version_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.lstrip("v").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def get_engine(name: str, cilium_version: str = "1.17") -> EngineProfile:
    """The profile called ``name`` (one of ``ENGINE_NAMES``); raises ``ValueError`` for an unknown name/version."""
    if name == "spec":
        return EngineProfile("spec")
    if name == "calico":
        return EngineProfile("calico")
    if name == "none":
        return EngineProfile("none", enforces=False)
    if name == "npm":
        return EngineProfile("npm", own_node_egress_allowed=True, lb_cluster_etp_bypasses_ingress=True)
    if name == "cilium":
        try:
            ver = _version_tuple(cilium_version)
        except ValueError:
            raise ValueError(f"cilium version {cilium_version!r} is not a version number") from None
        return EngineProfile(
            "cilium", ipblock_matches_cluster_ips=False, endport_supported=ver >= (1, 17),
            named_port_model="lowest-per-policy", version=cilium_version,
        )
    raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")
