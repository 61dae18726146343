"""IP address management of the simulated cluster: pod IPs, service cluster IPs, node ports, LB IPs.

Contract:
- Pod IPs (``PodIpam``): a pod on a node with ``spec.podCIDR`` (kubenet / Azure CNI overlay) gets the lowest free
  address of that CIDR from ``.2`` upward (``.0`` network, ``.1`` the node's bridge/gateway); a pod on a node
  without one (flat Azure CNI, node subnet) gets a globally unique address from ``FLAT_POD_RANGE`` (the upper half
  of the node subnet ``10.224.0.0/16``; node IPs live in the lower half, see ``topology.node_ip``), from ``.4``
  upward. Which range is used is decided at allocation time from the node as it is then: after an IPAM change
  (node relabelled for overlay and given a podCIDR) new pods get addresses from the new range.
  ``release(owner)`` frees an owner's address; allocations are keyed by an owner id (the pod uid), so allocating
  twice for one owner returns the same address. ``reserve(owner, ip)`` records an address assigned elsewhere.
- Host-network pods use the node IP and never touch the allocator.
- ``ServiceIpam`` hands out cluster IPs from the service CIDR (``.1`` for default/kubernetes, the DNS service IP
  for kube-system/kube-dns, otherwise ``.11`` upward), node ports in 30000-32767 and load-balancer ingress IPs as
  plain strings from 52.170.0.0/16 (public-looking literals; nothing is ever routed to them).
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress

FLAT_POD_RANGE = "10.224.128.0/17"
LB_RANGE = "52.170.0.0/16"
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767


class IpamExhausted(RuntimeError):
    """No free address left in the range a pod needs."""


class _Pool:
    """Free-list allocator over [first, last] integers: lowest released first, then a moving cursor."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.cursor = first
        self.free: list[int] = []
        self.used: set[int] = set()

    def take(self) -> int:
        while self.free:
            n = heapq.heappop(self.free)
            if n not in self.used:
                self.used.add(n)
                return n
        while self.cursor <= self.last:
            n = self.cursor
            self.cursor += 1
            if n not in self.used:
                self.used.add(n)
                return n
        raise IpamExhausted("address range exhausted")

    def mark(self, n: int) -> None:
        self.used.add(n)

    def give_back(self, n: int) -> None:
        if n in self.used:
            self.used.discard(n)
            heapq.heappush(self.free, n)


class PodIpam:
    """See the module docstring."""

    def __init__(self, flat_range: str = FLAT_POD_RANGE) -> None:
        net = ipaddress.ip_network(flat_range)
        self._flat_key = str(net)
        self._pools: dict[str, _Pool] = {self._flat_key: _Pool(int(net.network_address) + 4,
                                                               int(net.broadcast_address) - 1)}
        self._owners: dict[str, tuple[str, int]] = {}

    def _pool_for(self, cidr: str | None) -> tuple[str, _Pool]:
        if not cidr:
            return self._flat_key, self._pools[self._flat_key]
        pool = self._pools.get(cidr)
        if pool is None:
            net = ipaddress.ip_network(cidr, strict=False)
            pool = _Pool(int(net.network_address) + 2, int(net.broadcast_address) - 1)
            self._pools[cidr] = pool
        return cidr, pool

    def allocate(self, owner: str, pod_cidr: str | None) -> str:
        """An address for ``owner`` from ``pod_cidr`` (or the flat range when None); idempotent per owner."""
        if owner in self._owners:
            cidr, n = self._owners[owner]
            if cidr == (pod_cidr or self._flat_key):
                return str(ipaddress.ip_address(n))
            self.release(owner)
        key, pool = self._pool_for(pod_cidr)
        n = pool.take()
        self._owners[owner] = (key, n)
        return str(ipaddress.ip_address(n))

    def reserve(self, owner: str, ip: str, pod_cidr: str | None) -> None:
        """Record that ``owner`` already holds ``ip`` (e.g. a pod created with a status)."""
        if owner in self._owners:
            return
        n = int(ipaddress.ip_address(ip))
        key, pool = self._pool_for(pod_cidr)
        if not pool.first <= n <= pool.last:
            return
        pool.mark(n)
        self._owners[owner] = (key, n)

    def release(self, owner: str) -> None:
        held = self._owners.pop(owner, None)
        if held is not None:
            self._pools[held[0]].give_back(held[1])

    def holds(self, owner: str) -> bool:
        return owner in self._owners


class ServiceIpam:
    """See the module docstring."""

    def __init__(self, service_cidr: str = "10.0.0.0/16", dns_service_ip: str | None = None) -> None:
        net = ipaddress.ip_network(service_cidr, strict=False)
        self.net = net
        self.dns_ip = dns_service_ip or str(net.network_address + 10)
        self.kubernetes_ip = str(net.network_address + 1)
        self._cluster = _Pool(int(net.network_address) + 11, int(net.broadcast_address) - 1)
        self._node_ports = _Pool(NODE_PORT_MIN, NODE_PORT_MAX)
        lb = ipaddress.ip_network(LB_RANGE)
        self._lb = _Pool(int(lb.network_address) + 4, int(lb.broadcast_address) - 1)

    def mark_cluster_ip(self, ip: str) -> None:
        try:
            n = int(ipaddress.ip_address(ip))
        except ValueError:
            return
        self._cluster.mark(n)

    def cluster_ip(self, namespace: str, name: str) -> str:
        if (namespace, name) == ("default", "kubernetes"):
            return self.kubernetes_ip
        if (namespace, name) == ("kube-system", "kube-dns"):
            return self.dns_ip
        return str(ipaddress.ip_address(self._cluster.take()))

    def release_cluster_ip(self, ip: str) -> None:
        with contextlib.suppress(ValueError):
            self._cluster.give_back(int(ipaddress.ip_address(ip)))

    def mark_node_port(self, port: int) -> None:
        self._node_ports.mark(port)

    def node_port(self) -> int:
        return self._node_ports.take()

    def release_node_port(self, port: int) -> None:
        self._node_ports.give_back(port)

    def mark_lb_ip(self, ip: str) -> None:
        with contextlib.suppress(ValueError):
            self._lb.mark(int(ipaddress.ip_address(ip)))

    def lb_ip(self) -> str:
        return str(ipaddress.ip_address(self._lb.take()))

    def release_lb_ip(self, ip: str) -> None:
        with contextlib.suppress(ValueError):
            self._lb.give_back(int(ipaddress.ip_address(ip)))
