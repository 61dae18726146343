"""AKS gateway: read a cluster, change its network profile with a resumable LRO, abort, get a kubeconfig.

Contract:
- Every public method translates SDK errors into ``netmig.azure.errors`` (``from`` the original).
- ``begin_network_update(target, etag)`` sends exactly ONE managed-cluster PUT (the whole cluster as read, with
  the network profile fields changed, like ``az aks update``) and returns an ``Operation`` whose
  ``continuation_token`` can be saved; ``resume(token)`` re-attaches to it without sending a PUT.
- ``wait(op)`` blocks until the LRO ends; it raises ``OperationFailed`` for Failed/Canceled.
- ``list_subscriptions()`` is ``GET {endpoint}/subscriptions`` (api-version 2022-12-01, following ``nextLink``)
  through the same pipeline (credential, CA bundle): ``[(subscriptionId, displayName)]`` of the Enabled ones. It
  needs no cluster: ``AksGateway(ArmTarget(ref=ClusterRef("-", "-", "-"), ...))`` is enough.
- Tokens and kubeconfigs never appear in exceptions or logs.
- ``check_access()`` proves a target usable cheaply (a token, one GET); a credential that gets no token is
  ``NoCredential`` naming the sources DefaultAzureCredential tried, in one line. ``network_update_request`` builds
  the network-profile PUT ``begin_network_update`` sends (``apply --dry-run`` shows it).
- Retries are the SDK's (10 for 408/429/5xx and connection errors, exponential backoff); against the sandbox (a
  static token) with a short backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    map_error,
)
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.core.exceptions import ARMErrorFormat

from netmig.azure import errors
from netmig.connection import ArmTarget
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo

T = TypeVar("T")
ARM_SCOPE = "https://management.azure.com/.default"
SUBSCRIPTIONS_API = "2022-12-01"
_ERROR_MAP: dict[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}


class StaticTokenCredential(TokenCredential):
    """A fixed bearer token (the sandbox's). Never used for real clusters."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "StaticTokenCredential(<hidden>)"


def _credential(target: ArmTarget) -> TokenCredential:
    if target.static_token:
        return StaticTokenCredential(target.static_token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Translate SDK exceptions raised inside the block into ``netmig.azure.errors``."""
    try:
        yield
    except ResourceNotFoundError as e:
        raise errors.NotFound(f"{action}: not found ({_code(e)})", _code(e), 404) from e
    except (ResourceExistsError, ResourceModifiedError) as e:
        raise errors.Conflict(f"{action}: {_message(e)}", _code(e), e.status_code) from e
    except ClientAuthenticationError as e:
        if e.status_code is None and e.response is None:  # the credential itself got no token
            raise errors.NoCredential(f"{action}: {credential_summary(e)}") from e
        raise errors.AuthFailed(f"{action}: authentication failed ({_code(e) or e.status_code})",
                                _code(e), e.status_code) from e
    except (ServiceRequestError, ServiceResponseError) as e:
        raise errors.Temporary(f"{action}: ARM endpoint unreachable ({e.__class__.__name__})") from e
    except HttpResponseError as e:
        status = e.status_code or 0
        code = _code(e)
        msg = f"{action}: {_message(e)}"
        if status == 429:
            retry = e.response.headers.get("Retry-After") if e.response is not None else None  # type: ignore[attr-defined]
            raise errors.Throttled(msg, code, 429, float(retry) if retry else None) from e
        if status in (409, 412) or code == "OperationNotAllowed":
            raise errors.Conflict(msg, code, status) from e
        if status >= 500:
            raise errors.Temporary(msg, code, status) from e
        if status in (401, 403):
            raise errors.AuthFailed(msg, code, status) from e
        if status == 200 or status == 0:  # a polled LRO that ended Failed/Canceled
            raise errors.OperationFailed(msg, code, status) from e
        raise errors.Rejected(msg, code, status) from e


_LABELS = {"EnvironmentCredential": "environment variables", "WorkloadIdentityCredential": "workload identity",
           "ManagedIdentityCredential": "managed identity", "SharedTokenCacheCredential": "shared token cache",
           "VisualStudioCodeCredential": "VS Code", "AzureCliCredential": "Azure CLI",
           "AzurePowerShellCredential": "Azure PowerShell", "AzureDeveloperCliCredential": "Azure Developer CLI",
           "InteractiveBrowserCredential": "browser", "BrokerCredential": "broker"}


def credential_summary(e: Exception) -> str:
    """One line for a credential that got no token: DefaultAzureCredential's chain summarized (the sources it
    tried, by name), never its per-source details."""
    import re

    text = str(getattr(e, "message", None) or e)
    tried = []
    for name in re.findall(r"^\s*(\w+Credential)\s*:", text, flags=re.MULTILINE):
        label = _LABELS.get(name) or re.sub(r"(?<!^)(?=[A-Z][a-z])", " ", re.sub(r"Credential$", "", name)).strip()
        if label not in tried:
            tried.append(label)
    if "DefaultAzureCredential" in text or tried:
        return "no Azure credential is available (DefaultAzureCredential tried " + (
            ", ".join(tried) if tried else "its whole chain") + "; none signed in)"
    first = text.strip().splitlines()[0] if text.strip() else e.__class__.__name__
    return f"the credential got no token ({first[:160]})"


def _text(value: Any, default: str) -> str:
    """An SDK enum or string as its wire value ("System", not "AgentPoolMode.SYSTEM")."""
    if value is None:
        return default
    return str(getattr(value, "value", value))


def _pool_type(pool: Any) -> str:
    """AvailabilitySet / VirtualMachineScaleSets, lower-cased (``type_properties_type`` in recent SDKs, where
    ``type`` is the resource type)."""
    return _text(getattr(pool, "type_properties_type", None) or pool.type, "").lower()


def _code(e: HttpResponseError) -> str | None:
    err = getattr(e, "error", None)
    return getattr(err, "code", None) if err is not None else None


def _message(e: HttpResponseError) -> str:
    err = getattr(e, "error", None)
    text = getattr(err, "message", None) if err is not None else None
    code = getattr(err, "code", None) if err is not None else None
    text = text or str(e.message or e).splitlines()[0]
    return f"{code}: {text}" if code else text


@dataclass
class Operation:
    """An in-flight ARM long-running operation."""

    poller: LROPoller[Any]
    continuation_token: str

    def done(self) -> bool:
        return self.poller.done()

    def status(self) -> str:
        return str(self.poller.status())


@dataclass
class NetworkUpdate:
    """A built managed-cluster PUT (``AksGateway.network_update_request``): the body model and the SDK keyword
    arguments (If-Match) ``begin_network_update`` sends."""

    model: Any
    kwargs: dict[str, Any]
    ref: ClusterRef
    api_version: str

    def describe(self) -> dict[str, Any]:
        """The request as it goes on the wire: ``method``, ``path``, ``api_version``, ``if_match`` (None: no
        condition) and ``network_profile`` (the body's networkProfile, ARM JSON)."""
        body = self.model.as_dict()  # the wire JSON the SDK sends (camelCase)
        method, path, api_version, if_match = "PUT", self.ref.resource_id, self.api_version, None
        try:  # the SDK's own request builder: the exact path, query and If-Match header it sends
            from azure.mgmt.containerservice.operations._operations import (
                build_managed_clusters_create_or_update_request as build,
            )

            req = build(self.ref.resource_group, self.ref.name, self.ref.subscription_id,
                        api_version=self.api_version, content_type="application/json", **self.kwargs)
            method, url = req.method, req.url
            path = url.split("?", 1)[0]
            query = dict(x.split("=", 1) for x in url.split("?", 1)[1].split("&")) if "?" in url else {}
            api_version = query.get("api-version", api_version)
            if_match = req.headers.get("If-Match")
        except ImportError:  # another SDK layout: the same values, quoted as RFC 7232 wants
            etag = self.kwargs.get("etag")
            if_match = (etag if etag.startswith(('"', "W/")) else f'"{etag}"') if etag else None
        return {"method": method, "path": path, "api_version": api_version, "if_match": if_match,
                "network_profile": dict((body.get("properties") or {}).get("networkProfile") or {})}


class AksGateway:
    """Talks to one AKS cluster through azure-mgmt-containerservice."""

    def __init__(self, target: ArmTarget, polling_interval: float | None = None) -> None:
        """``polling_interval``: seconds between polls of a long-running operation (default: the target's pace,
        ``ArmTarget.arm_poll_seconds``). Retries back off at most ``target.retry_backoff_max`` when it is set."""
        self.target = target
        self.ref: ClusterRef = target.ref
        kwargs: dict[str, Any] = {"base_url": target.endpoint,
                                  "polling_interval": polling_interval if polling_interval is not None
                                  else target.arm_poll_seconds}
        if target.ca_bundle:
            kwargs["connection_verify"] = target.ca_bundle
        if target.retry_backoff_max is not None:  # the connection's declared pace: the SDK's retries, paced by it
            backoff = target.retry_backoff_max
            kwargs.update(retry_backoff_factor=backoff / 20, retry_backoff_max=backoff)
        self._credential = _credential(target)
        self.client = ContainerServiceClient(self._credential, target.ref.subscription_id, **kwargs)

    # ------------------------------------------------------------------ reads
    def _raw_cluster(self) -> Any:
        with translated(f"reading cluster {self.ref}"):
            return self.client.managed_clusters.get(self.ref.resource_group, self.ref.name)

    def cluster(self) -> ClusterInfo:
        mc = self._raw_cluster()
        pools = self.pools()
        np = mc.network_profile
        raw_np = np.as_dict() if np is not None else {}
        identity = getattr(mc, "identity", None)
        npp = getattr(mc, "node_provisioning_profile", None)
        return ClusterInfo(
            ref=self.ref,
            location=mc.location,
            kubernetes_version=mc.current_kubernetes_version or mc.kubernetes_version or "",
            provisioning_state=mc.provisioning_state or "Unknown",
            network=NetworkProfile.from_arm(raw_np),
            etag=getattr(mc, "e_tag", None) or getattr(mc, "etag", None),
            pools=tuple(pools),
            identity_type=_text(identity.type, "") or None if identity is not None else None,
            node_provisioning_mode=_text(getattr(npp, "mode", None), "") or None if npp is not None else None,
            raw_network=dict(raw_np),
        )

    def check_access(self) -> None:
        """The cheapest proof that this target is usable: a token for ARM (``NoCredential`` when the credential
        gets none; azure-identity's own warning with the chain's details is kept off the terminal), then one GET of
        the cluster (``Temporary`` when the endpoint does not answer, ``NotFound``, ``AuthFailed``)."""
        import logging

        quiet = [logging.getLogger(n) for n in ("azure.identity", "azure.core.pipeline.policies")]
        levels = [lg.level for lg in quiet]
        for lg in quiet:
            lg.setLevel(logging.CRITICAL)
        try:
            with translated(f"getting a token for {self.target.endpoint}"):
                self._credential.get_token(ARM_SCOPE)
            self._raw_cluster()
        finally:
            for lg, level in zip(quiet, levels, strict=True):
                lg.setLevel(level)

    def pools(self) -> list[PoolInfo]:
        with translated(f"listing node pools of {self.ref}"):
            items = list(self.client.agent_pools.list(self.ref.resource_group, self.ref.name))
        out = []
        for p in items:
            surge = p.upgrade_settings.max_surge if p.upgrade_settings is not None else None
            out.append(PoolInfo(
                name=p.name or "", mode=_text(p.mode, "User"), os_type=_text(p.os_type, "Linux"),
                count=int(p.count or 0),
                provisioning_state=p.provisioning_state or "Unknown", max_surge=surge, vm_size=p.vm_size,
                orchestrator_version=p.current_orchestrator_version or p.orchestrator_version,
                availability_set=_pool_type(p) == "availabilityset",
                max_pods=int(p.max_pods) if getattr(p, "max_pods", None) else None,
                pod_subnet_id=getattr(p, "pod_subnet_id", None) or None,
            ))
        return out

    def list_clusters(self) -> list[ClusterRef]:
        with translated("listing clusters"):
            items = list(self.client.managed_clusters.list())
        out = []
        for mc in items:
            try:
                out.append(ClusterRef.parse(mc.id or ""))
            except ValueError:
                continue
        return out

    def list_subscriptions(self) -> list[tuple[str, str]]:
        """(subscriptionId, displayName) of the Enabled subscriptions the credential sees, as ARM lists them."""
        out: list[tuple[str, str]] = []
        url: str | None = f"{self.target.endpoint.rstrip('/')}/subscriptions?api-version={SUBSCRIPTIONS_API}"
        seen: set[str] = set()
        with translated("listing subscriptions"):
            while url and url not in seen:
                seen.add(url)
                res = self.client.send_request(HttpRequest("GET", url))
                if res.status_code != 200:
                    map_error(status_code=res.status_code, response=res, error_map=_ERROR_MAP)
                    raise HttpResponseError(response=res, error_format=ARMErrorFormat)
                try:
                    page = dict(res.json())
                except (ValueError, TypeError):
                    raise errors.Rejected("listing subscriptions: ARM answered something that is not a JSON "
                                          "object", None, res.status_code) from None
                for s in page.get("value") or []:
                    if str(s.get("state") or "").lower() == "enabled" and s.get("subscriptionId"):
                        out.append((str(s["subscriptionId"]), str(s.get("displayName") or "")))
                url = page.get("nextLink")
        return out

    def user_kubeconfig(self) -> bytes:
        """The clusterUser kubeconfig from listClusterUserCredential (no az CLI involved)."""
        with translated(f"getting user credentials of {self.ref}"):
            res = self.client.managed_clusters.list_cluster_user_credentials(self.ref.resource_group, self.ref.name)
        if not res.kubeconfigs:
            raise errors.Rejected(f"ARM returned no kubeconfig for {self.ref}")
        value = res.kubeconfigs[0].value
        return value if isinstance(value, bytes) else bytes(value or b"")

    # ----------------------------------------------------------------- writes
    def network_update_request(self, target: NetworkProfile, etag: str | None = None) -> NetworkUpdate:
        """The managed-cluster PUT that sets the network profile to ``target`` (the cluster as read now, with the
        network profile fields changed, like ``az aks update``), built but not sent: ``begin_network_update``
        sends exactly this, and ``apply --dry-run`` shows it (``NetworkUpdate.describe``)."""
        mc = self._raw_cluster()
        np = mc.network_profile
        np.network_plugin = target.plugin
        np.network_plugin_mode = target.plugin_mode
        np.network_policy = target.policy
        np.network_dataplane = target.dataplane
        if target.pod_cidr:
            if np.pod_cidr and np.pod_cidr != target.pod_cidr and np.pod_cidrs:  # keep podCidrs consistent
                np.pod_cidrs = [target.pod_cidr if c == np.pod_cidr else c for c in np.pod_cidrs]
            np.pod_cidr = target.pod_cidr
        kwargs: dict[str, Any] = {}
        if etag:
            from azure.core import MatchConditions

            kwargs = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        return NetworkUpdate(model=mc, kwargs=kwargs, ref=self.ref, api_version=self._api_version())

    def _api_version(self) -> str:
        return str(getattr(self.client._config, "api_version", ""))

    def begin_network_update(self, target: NetworkProfile, etag: str | None = None) -> Operation:
        """One PUT of the whole cluster with the network profile set to ``target`` (``network_update_request``)."""
        req = self.network_update_request(target, etag)
        with translated(f"updating the network profile of {self.ref}"):
            poller = self.client.managed_clusters.begin_create_or_update(
                self.ref.resource_group, self.ref.name, req.model, **req.kwargs)
        return Operation(poller, poller.continuation_token())

    def resume(self, continuation_token: str) -> Operation:
        """Re-attach to an operation started earlier (no request is re-sent)."""
        with translated(f"resuming the operation on {self.ref}"):
            poller = self.client.managed_clusters.begin_create_or_update(  # type: ignore[call-overload]
                self.ref.resource_group, self.ref.name, None, continuation_token=continuation_token)
        return Operation(poller, continuation_token)

    def wait(self, op: Operation, timeout: float | None = None,
             on_tick: Callable[[Operation], None] | None = None, tick: float = 1.0) -> None:
        """Wait for the operation; ``on_tick`` is called every ``tick`` seconds while it runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with translated(f"waiting for the operation on {self.ref}"):
            while not op.poller.done():
                op.poller.wait(tick)
                if on_tick is not None:
                    on_tick(op)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"the operation on {self.ref} did not finish within {timeout:.0f} s")
            op.poller.result()

    def abort(self) -> None:
        """Ask ARM to abort the latest operation on the cluster (Canceling -> Canceled); waits for it."""
        with translated(f"aborting the latest operation on {self.ref}"):
            self.client.managed_clusters.begin_abort_latest_operation(self.ref.resource_group, self.ref.name).result()
