"""Fleet inventory: every AKS cluster a credential can read, as ARM JSON, through Resource Graph or ARM listing.

Contract:
- ``list_fleet(target, subscriptions=())`` returns ``Inventory(clusters, source)``: ``clusters`` is one ARM JSON
  dict (camelCase, as ARM serves a managedCluster: ``id``, ``name``, ``location``, ``tags``, ``identity``,
  ``properties`` with ``agentPoolProfiles``) per cluster, sorted by id; ``source`` is ``resource-graph`` or
  ``arm-listing``.
- Resource Graph first (azure-mgmt-resourcegraph, ``CLUSTER_QUERY`` across ``subscriptions``, or every subscription
  the credential can list when none are given; paged with ``$skipToken``, ``PAGE_SIZE`` rows a page). When Resource
  Graph is unavailable (404, 400 for the query, 403, connection failure) it falls back to listing
  ``Microsoft.ContainerService/managedClusters`` per subscription through azure-mgmt-containerservice;
  ``fallback_reason`` says why. An error of the fallback itself is raised translated (``netmig.azure.errors``).
- ``target`` is any ``ArmTarget``: only its endpoint, CA bundle and credential are used (the cluster is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from netmig.azure.gateway import AksGateway, _credential, translated
from netmig.connection import ArmTarget

CLUSTER_QUERY = ("Resources | where type =~ 'microsoft.containerservice/managedclusters' | project id, name, "
                 "type, location, resourceGroup, subscriptionId, tags, sku, identity, properties")
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Inventory:
    clusters: list[dict[str, Any]]
    source: str  # resource-graph | arm-listing
    fallback_reason: str | None = None


def _client_kwargs(target: ArmTarget) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"base_url": target.endpoint}
    if target.ca_bundle:
        kwargs["connection_verify"] = target.ca_bundle
    if target.retry_backoff_max is not None:
        kwargs.update(retry_backoff_factor=target.retry_backoff_max / 20, retry_backoff_max=target.retry_backoff_max,
                      retry_total=2)
    return kwargs


def resource_graph(target: ArmTarget, subscriptions: list[str]) -> list[dict[str, Any]]:
    """Every managed cluster in ``subscriptions`` by ``CLUSTER_QUERY``, all pages (raises SDK errors as they are)."""
    from azure.mgmt.resourcegraph import ResourceGraphClient
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    client = ResourceGraphClient(_credential(target), **_client_kwargs(target))
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        options = QueryRequestOptions(top=PAGE_SIZE, skip_token=token, result_format="objectArray")
        res = client.resources(QueryRequest(subscriptions=subscriptions, query=CLUSTER_QUERY, options=options))
        data: Any = res.data or []  # objectArray: a list with one dict a row
        rows.extend(dict(r) for r in data if isinstance(r, dict))
        token = res.skip_token
        if not token:
            return rows


def arm_listing(target: ArmTarget, subscriptions: list[str]) -> list[dict[str, Any]]:
    """Every managed cluster of each subscription through ``managedClusters`` list (ARM JSON, camelCase)."""
    from azure.mgmt.containerservice import ContainerServiceClient

    out: list[dict[str, Any]] = []
    credential = _credential(target)
    for sub in subscriptions:
        client = ContainerServiceClient(credential, sub, **_client_kwargs(target))
        with translated(f"listing the clusters of subscription {sub}"):
            for mc in client.managed_clusters.list():
                out.append(dict(mc.as_dict()))  # the wire (camelCase) JSON
    return out


def subscriptions_of(target: ArmTarget) -> list[str]:
    """The Enabled subscriptions the credential can list."""
    return [s for s, _ in AksGateway(target).list_subscriptions()]


def list_fleet(target: ArmTarget, subscriptions: tuple[str, ...] | list[str] = ()) -> Inventory:
    """See the module contract."""
    subs = list(subscriptions) or subscriptions_of(target)
    reason: str | None = None
    try:
        rows = resource_graph(target, subs)
        return Inventory(sorted(rows, key=lambda r: str(r.get("id", "")).lower()), "resource-graph")
    except HttpResponseError as e:
        if e.status_code not in (400, 403, 404, 501):
            with translated("querying Resource Graph"):
                raise
        reason = f"Resource Graph answered {e.status_code}"
    except (ServiceRequestError, ServiceResponseError) as e:
        reason = f"Resource Graph unreachable ({e.__class__.__name__})"
    rows = arm_listing(target, subs)
    return Inventory(sorted(rows, key=lambda r: str(r.get("id", "")).lower()), "arm-listing", reason)
