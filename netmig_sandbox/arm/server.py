"""The sandbox's ARM endpoint: the slice of Microsoft.ContainerService the real SDK needs.

Contract:
- ``build_app(ctx) -> aiohttp.web.Application``. Sets ``ctx.arm`` from the scenario if unset and publishes
  ``ctx.services["evict"]`` (``reimage.install``). Routes (paths matched case-insensitively, any api-version):
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters
    GET  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters
    GET|PUT  .../managedClusters/{name}                        (PUT: If-Match / If-None-Match honoured -> 412)
    GET  .../managedClusters/{name}/agentPools;  GET|PUT .../agentPools/{pool}
    POST .../managedClusters/{name}/abort;  POST .../agentPools/{pool}/abort   (202 + Azure-AsyncOperation, Location)
    POST .../managedClusters/{name}/listClusterUserCredential | listClusterAdminCredential
    GET  .../managedClusters/{name}/upgradeProfiles/default;  GET .../locations/{loc}/kubernetesVersions
    POST .../managedClusters/{name}/runCommand (202 + Location) -> GET .../commandResults/{id} (202 while
         running, then 200 with exitCode and logs: a simulated ``kubectl``, see ``netmig_sandbox.arm.runcommand``)
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{loc}/operations/{id}  (+ Retry-After)
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{loc}/operationresults/{id}
    GET  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks[/{vnet}[/subnets[/{sn}]
         | /usages]]   (the nodes' VNet, read-only: see ``netmig_sandbox.arm.network``)
  PUTs answer 200 (201 when creating) with the resource and ``Azure-AsyncOperation``; errors are
  ``{"error": {"code", "message"}}``.
- Admin (not ARM): ``POST /_sandbox/faults`` (a Fault as JSON, 201), ``GET /_sandbox/faults``,
  ``DELETE /_sandbox/faults``, ``GET /_sandbox/state`` (``ArmState.snapshot``).
    GET  {scope}/providers/Microsoft.Authorization/permissions   (the caller's actions / notActions)
- Every request needs ``Authorization: Bearer <ctx.arm_token>`` (else 401 InvalidAuthenticationToken). With a
  restricted identity (``netmig_sandbox.arm.authz``) an ARM request whose action its role does not grant answers
  403 AuthorizationFailed (before faults and validation, as ARM authorizes first).
- ARM requests (not admin ones) first consult ``ctx.faults.take("arm", method, path, kind="status")``.
- Every request appends one JSON line to ``ctx.dir / "arm-requests.jsonl"``: ``method, path, status, time``
  (epoch seconds, when the request arrived), ``sim_time``, ``api_version``, ``action`` (the RBAC action it needs,
  ``authz.action_for``); cluster PUTs add ``network_profile_change`` (the PUT changes
  plugin / pluginMode / policy / dataplane / podCidr), ``reimage`` (it started a reimage, including a resume),
  ``if_match`` (the If-Match header, or null) and ``network_profile`` (the body's networkProfile);
  faulted requests add ``fault: true``.
"""

from __future__ import annotations

import base64
import contextvars
import copy
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from netmig_sandbox.arm import authz, operations, reimage, runcommand, versions
from netmig_sandbox.arm.state import TENANT_ID, ArmError, ArmState, Operation, pool_resource
from netmig_sandbox.arm.validation import merge_profile, network_changed, validate_network_update
from netmig_sandbox.context import SandboxContext
from netmig_sandbox.faults import Faults
from netmig_sandbox.sim import topology

_LOG_EXTRA: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("arm_log_extra")
Handler = Callable[..., Awaitable[web.StreamResponse]]

_RG = r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.containerservice"
_MC = _RG + r"/managedclusters/(?P<name>[^/]+)"
_LOC = r"/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.containerservice/locations/(?P<loc>[^/]+)"
_VNETS = r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.network/virtualnetworks"
_VNET = _VNETS + r"/(?P<vnet>[^/]+)"

READ_ONLY_PROPS = {
    "provisioningState", "powerState", "fqdn", "azurePortalFQDN", "privateFQDN", "currentKubernetesVersion",
    "maxAgentPools", "status", "resourceUID", "nodeResourceGroup", "agentPoolProfiles", "networkProfile",
}
POOL_READ_ONLY = {"provisioningState", "powerState", "currentOrchestratorVersion", "nodeImageVersion", "eTag"}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def _state(ctx: SandboxContext) -> ArmState:
    st = ctx.arm
    assert isinstance(st, ArmState)
    return st


def _not_found(kind: str, name: str, rg: str) -> ArmError:
    return ArmError(404, "ResourceNotFound",
                    f"The Resource 'Microsoft.ContainerService/{kind}/{name}' under resource group '{rg}' was not "
                    "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")


class ArmApp:
    """Request handling for one sandbox; see the module docstring."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        if ctx.arm is None:
            ctx.arm = ArmState.from_scenario(ctx.scenario)
        reimage.install(ctx)
        self.log_path = ctx.dir / "arm-requests.jsonl"
        self.commands: dict[str, dict[str, Any]] = {}  # runCommand results by id
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/subscriptions"), self.list_subscriptions),
            ("GET", re.compile(r"/subscriptions/(?P<sub>[^/]+)"), self.get_subscription),
            ("GET", re.compile(r"/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.containerservice/"
                               r"managedclusters"), self.list_clusters),
            ("GET", re.compile(_RG + r"/managedclusters"), self.list_clusters),
            ("GET", re.compile(_MC), self.get_cluster),
            ("PUT", re.compile(_MC), self.put_cluster),
            ("GET", re.compile(_MC + r"/agentpools"), self.list_pools),
            ("GET", re.compile(_MC + r"/agentpools/(?P<pool>[^/]+)"), self.get_pool),
            ("PUT", re.compile(_MC + r"/agentpools/(?P<pool>[^/]+)"), self.put_pool),
            ("POST", re.compile(_MC + r"/abort"), self.abort),
            ("POST", re.compile(_MC + r"/agentpools/(?P<pool>[^/]+)/abort"), self.abort),
            ("POST", re.compile(_MC + r"/listcluster(?P<who>user|admin)credential"), self.credentials),
            ("GET", re.compile(_MC + r"/upgradeprofiles/(?P<profile>[^/]+)"), self.upgrade_profile),
            ("GET", re.compile(_LOC + r"/kubernetesversions"), self.kubernetes_versions),
            ("POST", re.compile(_MC + r"/runcommand"), self.run_command),
            ("GET", re.compile(_MC + r"/commandresults/(?P<command>[^/]+)"), self.command_result),
            ("GET", re.compile(_LOC + r"/operations/(?P<op>[^/]+)"), self.operation_status),
            ("GET", re.compile(_LOC + r"/operationresults/(?P<op>[^/]+)"), self.operation_result),
            ("GET", re.compile(_VNETS), self.list_vnets),
            ("GET", re.compile(_VNET), self.get_vnet),
            ("GET", re.compile(_VNET + r"/subnets"), self.list_subnets),
            ("GET", re.compile(_VNET + r"/subnets/(?P<subnet>[^/]+)"), self.get_subnet),
            ("GET", re.compile(_VNET + r"/usages"), self.vnet_usages),
            ("GET", re.compile(r"(?P<scope>/subscriptions/.+)/providers/microsoft\.authorization/permissions"),
             self.permissions),
        ]

    # ------------------------------------------------------------------ plumbing
    @property
    def st(self) -> ArmState:
        return _state(self.ctx)

    def _log(self, entry: dict[str, Any]) -> None:
        try:
            with self.log_path.open("a") as f:
                f.write(json.dumps(entry) + "\n")
        except OSError:
            pass

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        extra: dict[str, Any] = {}
        _LOG_EXTRA.set(extra)
        arrived = time.time()
        path = request.path
        admin = path.startswith("/_sandbox/")
        try:
            auth = request.headers.get("Authorization", "")
            if auth != f"Bearer {self.ctx.arm_token}":
                raise ArmError(401, "InvalidAuthenticationToken",
                               "The access token is invalid." if auth else
                               "The request did not have a subscription or a valid tenant level resource provider.")
            if admin:
                resp = await self.admin(request)
            else:
                action = authz.action_for(request.method, path)
                extra["action"] = action
                if action is not None and not authz.allowed(action, *authz.role_permissions(self.ctx)):
                    raise ArmError(*authz.failure(action, path))
                fault = self.ctx.faults.take("arm", request.method, path, kind="status")
                if fault is not None:
                    extra["fault"] = True
                    headers = {}
                    if fault.retry_after is not None:
                        ra = fault.retry_after
                        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
                    raise ArmError(fault.status, fault.code, fault.message, headers)
                if "api-version" not in request.query:
                    raise ArmError(400, "MissingApiVersionParameter",
                                   "The api-version query parameter (?api-version=) is required for all requests.")
                resp = await self.route(request)
        except ArmError as e:
            resp = _json(e.body(), e.status, e.headers)
        entry: dict[str, Any] = {
            "method": request.method, "path": path, "status": resp.status, "time": arrived,
            "sim_time": round(self.ctx.clock.sim_now(), 3), "api_version": request.query.get("api-version"),
        }
        entry.update(extra)
        self._log(entry)
        return resp

    async def route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/").lower()
        # keep original casing for names: match on the lowered path, slice the original
        original = request.path.rstrip("/")
        known_path = False
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(path)
            if not m:
                continue
            known_path = True
            if method != request.method:
                continue
            args = {k: original[m.start(k):m.end(k)] for k in m.groupdict() if m.group(k) is not None}
            return await handler(request, **args)
        if known_path:
            raise ArmError(405, "MethodNotAllowed",
                           f"The requested resource does not support http method '{request.method}'.")
        raise ArmError(404, "InvalidResourceType",
                       f"The resource type could not be found in the namespace 'Microsoft.ContainerService' for "
                       f"path '{request.path}'.")

    def _scope(self, sub: str, rg: str | None = None) -> None:
        if sub.lower() != self.st.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        if rg is not None and rg.lower() != self.st.resource_group.lower():
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    def _cluster(self, sub: str, rg: str, name: str) -> dict[str, Any]:
        self._scope(sub, rg)
        c = self.st.cluster
        if c is None or c["name"].lower() != name.lower():
            raise _not_found("managedClusters", name, rg)
        return c

    def _pool(self, sub: str, rg: str, name: str, pool: str) -> dict[str, Any]:
        self._cluster(sub, rg, name)
        for pname, res in self.st.pools.items():
            if pname.lower() == pool.lower():
                return res
        raise _not_found("managedClusters/agentPools", f"{name}/{pool}", rg)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized.") from None
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return body

    @staticmethod
    def _check_etag(request: web.Request, etag: str | None) -> None:
        if_match = request.headers.get("If-Match")
        if if_match and if_match.strip() != "*" and if_match.strip().strip('"') != (etag or ""):
            raise ArmError(412, "PreconditionFailed",
                           f"Operation is not allowed since the provided If-Match header '{if_match}' does not "
                           f"match the current etag '{etag}' of the resource.")
        if request.headers.get("If-None-Match", "").strip() == "*" and etag is not None:
            raise ArmError(412, "PreconditionFailed",
                           "Operation is not allowed since the If-None-Match header is '*' and the resource "
                           "already exists.")

    def _async_headers(self, request: web.Request, op: Operation, location: bool = False) -> dict[str, str]:
        origin = f"{request.scheme}://{request.host}"
        api = request.query.get("api-version", "")
        headers = {"Azure-AsyncOperation": f"{origin}{self.st.operation_path(op.id)}?api-version={api}"}
        if location:
            headers["Location"] = f"{origin}{self.st.operation_result_path(op.id)}?api-version={api}"
        return headers

    # ------------------------------------------------------------------ subscriptions
    def _subscription_json(self) -> dict[str, Any]:
        sid = self.st.subscription_id
        return {"id": f"/subscriptions/{sid}", "subscriptionId": sid, "displayName": "Sandbox subscription",
                "state": "Enabled", "tenantId": TENANT_ID, "authorizationSource": "RoleBased",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                         "spendingLimit": "Off"}}

    async def list_subscriptions(self, request: web.Request) -> web.StreamResponse:
        return _json({"value": [self._subscription_json()]})

    async def get_subscription(self, request: web.Request, sub: str) -> web.StreamResponse:
        self._scope(sub)
        return _json(self._subscription_json())

    # ------------------------------------------------------------------ clusters
    async def list_clusters(self, request: web.Request, sub: str, rg: str | None = None) -> web.StreamResponse:
        self._scope(sub, rg)
        st = self.st
        return _json({"value": [st.cluster_json()] if st.cluster is not None else []})

    async def get_cluster(self, request: web.Request, sub: str, rg: str, name: str) -> web.StreamResponse:
        c = self._cluster(sub, rg, name)
        return _json(self.st.cluster_json(), headers={"ETag": c["eTag"]})

    async def put_cluster(self, request: web.Request, sub: str, rg: str, name: str) -> web.StreamResponse:
        self._scope(sub, rg)
        st = self.st
        body = await self._body(request)
        _LOG_EXTRA.get().update(if_match=request.headers.get("If-Match"),
                                network_profile=(body.get("properties") or {}).get("networkProfile"))
        if st.cluster is None:
            return await self._create_cluster(request, name, body)
        c = self._cluster(sub, rg, name)
        self._check_etag(request, c["eTag"])
        self.st.ensure_idle()
        props = body.get("properties") or {}
        current = st.profile
        target = merge_profile(current, props.get("networkProfile"))
        validate_network_update(
            current, target,
            kubernetes_version=str(c["properties"].get("currentKubernetesVersion")),
            pools=[{"name": n, **p["properties"]} for n, p in st.pools.items()],
            node_provisioning_mode=str((c["properties"].get("nodeProvisioningProfile") or {}).get("mode")),
            behaviour=st.behaviour,
            vnet_prefixes=list(st.network.address_prefixes) if st.network is not None else None,
        )
        change = network_changed(current, target)
        resume = (not change and c["properties"].get("provisioningState") in ("Failed", "Canceled")
                  and reimage.pending_nodes(self.ctx, target) > 0)
        new_props = copy.deepcopy(c["properties"])
        for k, v in props.items():
            if k not in READ_ONLY_PROPS:
                new_props[k] = copy.deepcopy(v)
        if props.get("kubernetesVersion"):
            new_props["currentKubernetesVersion"] = props["kubernetesVersion"]  # upgrades are not simulated
        new_props["networkProfile"] = target
        c["properties"] = new_props
        for k in ("tags", "sku"):
            if k in body and body[k] is not None:
                c[k] = copy.deepcopy(body[k])
        st.set_cluster_state("Updating")
        st.touch_cluster()
        do_reimage = change or resume
        if do_reimage:
            op = operations.start(self.ctx, "reimage", "cluster", reimage.reimage_body(self.ctx, target),
                                  method="PUT", path=request.path, pools=list(st.pools))
        else:
            op = operations.start(self.ctx, "update", "cluster", self._sleep_body(), method="PUT",
                                  path=request.path)
        _LOG_EXTRA.get().update(network_profile_change=change, reimage=do_reimage)
        return _json(st.cluster_json(), 200, self._async_headers(request, op))

    async def _create_cluster(self, request: web.Request, name: str, body: dict[str, Any]) -> web.StreamResponse:
        st = self.st
        props = body.get("properties") or {}
        scenario = {"cluster": {
            "subscription_id": st.subscription_id, "resource_group": st.resource_group,
            "location": body.get("location") or st.location, "name": name,
            "kubernetes_version": props.get("kubernetesVersion") or "1.30.4",
            "network_profile": props.get("networkProfile") or {},
            "pools": [{**p, "name": p.get("name", f"nodepool{i + 1}")}
                      for i, p in enumerate(props.get("agentPoolProfiles") or [])],
        }}
        fresh = ArmState.from_scenario(scenario)
        st.cluster, st.pools = fresh.cluster, fresh.pools
        assert st.cluster is not None
        st.cluster["tags"] = body.get("tags") or {}
        st.set_cluster_state("Creating")
        op = operations.start(self.ctx, "create", "cluster", self._sleep_body(), method="PUT", path=request.path,
                              pools=list(st.pools))
        _LOG_EXTRA.get().update(network_profile_change=False, reimage=False)
        return _json(st.cluster_json(), 201, self._async_headers(request, op))

    def _sleep_body(self) -> operations.Body:
        async def body(op: Operation) -> None:
            await self.ctx.clock.sleep(float(self.st.behaviour.get("operation_seconds", 10)))
        return body

    # ------------------------------------------------------------------ agent pools
    async def list_pools(self, request: web.Request, sub: str, rg: str, name: str) -> web.StreamResponse:
        self._cluster(sub, rg, name)
        return _json({"value": [self.st.pool_json(n) for n in self.st.pools]})

    async def get_pool(self, request: web.Request, sub: str, rg: str, name: str, pool: str) -> web.StreamResponse:
        res = self._pool(sub, rg, name, pool)
        return _json(copy.deepcopy(res), headers={"ETag": res["properties"]["eTag"]})

    async def put_pool(self, request: web.Request, sub: str, rg: str, name: str, pool: str) -> web.StreamResponse:
        c = self._cluster(sub, rg, name)
        st = self.st
        body = await self._body(request)
        props = body.get("properties") or {}
        existing = next((n for n in st.pools if n.lower() == pool.lower()), None)
        self._check_etag(request, st.pools[existing]["properties"]["eTag"] if existing else None)
        self.st.ensure_idle()
        if existing is None:
            spec = {"name": pool, **{k: v for k, v in props.items() if k not in POOL_READ_ONLY}}
            spec["maxSurge"] = (props.get("upgradeSettings") or {}).get("maxSurge") or "1"
            version = str(c["properties"].get("currentKubernetesVersion"))
            image = next(iter(st.pools.values()))["properties"]["nodeImageVersion"] if st.pools else ""
            st.pools[pool] = pool_resource(c["id"], spec, version, image or "AKSUbuntu-2204gen2containerd-202610.15.0",
                                           st.network.pool_subnet_id() if st.network is not None else None)
            st.pools[pool]["properties"]["count"] = 0
            target = int(props.get("count", 1))
            st.set_pool_state(pool, "Creating")
            op = operations.start(self.ctx, "create", pool, self._scale_body(pool, target), method="PUT",
                                  path=request.path, pools=[pool])
            return _json(st.pool_json(pool), 201, self._async_headers(request, op))
        res = st.pools[existing]
        cur = res["properties"]
        for k in ("vmSize", "osType"):
            if props.get(k) is not None and props[k] != cur.get(k):
                raise ArmError(400, "PropertyChangeNotAllowed", f"Changing property '{k}' is not allowed.")
        target = int(props.get("count", cur["count"]))
        if target < 0:
            raise ArmError(400, "InvalidParameter", "The value of parameter 'count' must be 0 or greater.")
        old_labels = dict(cur.get("nodeLabels") or {})
        for k, v in props.items():
            if k not in POOL_READ_ONLY and k != "count":
                cur[k] = copy.deepcopy(v)
        if "nodeLabels" in props and dict(props.get("nodeLabels") or {}) != old_labels:
            self._relabel_nodes(existing, old_labels, dict(props.get("nodeLabels") or {}))
        if target != cur["count"]:
            st.set_pool_state(existing, "Scaling")
            body_fn = self._scale_body(existing, target)
        else:
            st.set_pool_state(existing, "Updating")
            body_fn = self._sleep_body()
        st.touch_pool(existing)
        op = operations.start(self.ctx, "scale" if target != cur["count"] else "update", existing, body_fn,
                              method="PUT", path=request.path, pools=[existing])
        return _json(st.pool_json(existing), 200, self._async_headers(request, op))

    def _relabel_nodes(self, pool: str, old: dict[str, str], new: dict[str, str]) -> None:
        """AKS applies a pool's changed ``nodeLabels`` to its existing nodes (removed keys go, new ones come)."""
        for node in list(self.ctx.store.iter_raw(("", "nodes"))):
            labels = (node.get("metadata") or {}).get("labels") or {}
            if labels.get(topology.LABEL_POOL) != pool:
                continue

            def relabel(n: dict[str, Any]) -> None:
                meta_labels = n.setdefault("metadata", {}).setdefault("labels", {})
                for k in old:
                    if k not in new:
                        meta_labels.pop(k, None)
                meta_labels.update({str(k): str(v) for k, v in new.items()})

            self.ctx.store.update(("", "nodes"), None, node["metadata"]["name"], relabel)

    def _scale_body(self, pool: str, target: int) -> operations.Body:
        async def body(op: Operation) -> None:
            await reimage.scale_pool(self.ctx, op, pool, target)
        return body

    # ------------------------------------------------------------------ abort, credentials, operations
    async def abort(self, request: web.Request, sub: str, rg: str, name: str,
                    pool: str | None = None) -> web.StreamResponse:
        if pool is not None:
            pool = next(iter([n for n in self.st.pools if n.lower() == pool.lower()] or [pool]))
            self._pool(sub, rg, name, pool)
        else:
            self._cluster(sub, rg, name)
        aborter = operations.abort(self.ctx, pool or "cluster")
        return web.Response(status=202, headers=self._async_headers(request, aborter, location=True))

    async def credentials(self, request: web.Request, sub: str, rg: str, name: str, who: str) -> web.StreamResponse:
        self._cluster(sub, rg, name)
        user = "clusterAdmin" if who.lower() == "admin" else "clusterUser"
        value = base64.b64encode(self.ctx.kubeconfig(user).encode()).decode()
        return _json({"kubeconfigs": [{"name": user, "value": value}]})

    def _op(self, sub: str, loc: str, op_id: str) -> Operation:
        self._scope(sub)
        op = self.st.operations.get(op_id)
        if op is None or loc.lower() != self.st.location.lower():
            raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
        return op

    def _retry_after(self) -> dict[str, str]:
        """``Retry-After`` for polls: AKS' poll interval (``behaviour.retry_after_seconds`` simulated seconds,
        default 5) at the sandbox's time scale; fractional below one second (azure-core parses floats)."""
        seconds = float(self.st.behaviour.get("retry_after_seconds", 5)) * self.ctx.clock.time_scale
        if seconds >= 1:
            return {"Retry-After": str(round(seconds))}
        return {"Retry-After": f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")}

    async def operation_status(self, request: web.Request, sub: str, loc: str, op: str) -> web.StreamResponse:
        return _json(self._op(sub, loc, op).to_json(), headers=self._retry_after())

    async def operation_result(self, request: web.Request, sub: str, loc: str, op: str) -> web.StreamResponse:
        o = self._op(sub, loc, op)
        if not o.done:
            return web.Response(status=202, headers={"Location": str(request.url), **self._retry_after()})
        return web.Response(status=204)

    # ------------------------------------------------------------------ versions, runCommand
    async def upgrade_profile(self, request: web.Request, sub: str, rg: str, name: str,
                              profile: str) -> web.StreamResponse:
        c = self._cluster(sub, rg, name)
        if profile.lower() != "default":
            raise _not_found("managedClusters/upgradeProfiles", f"{name}/{profile}", rg)
        return _json(versions.upgrade_profile(c, self.st.pools))

    async def kubernetes_versions(self, request: web.Request, sub: str, loc: str) -> web.StreamResponse:
        self._scope(sub)
        return _json(versions.kubernetes_versions())

    async def run_command(self, request: web.Request, sub: str, rg: str, name: str) -> web.StreamResponse:
        c = self._cluster(sub, rg, name)
        body = await self._body(request)
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ArmError(400, "InvalidParameter", "The value of parameter 'command' is invalid: a command is "
                                                    "required.")
        cmd_id = secrets.token_hex(16)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.commands[cmd_id] = {"id": cmd_id, "properties": {"provisioningState": "Running", "startedAt": started}}

        async def execute() -> None:
            await self.ctx.clock.sleep(float(self.st.behaviour.get("run_command_seconds", 5)))
            code, logs = runcommand.run(self.ctx, command)
            self.commands[cmd_id]["properties"].update(
                provisioningState="Succeeded", exitCode=code, logs=logs,
                finishedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

        self.ctx.spawn(execute())
        origin = f"{request.scheme}://{request.host}"
        location = f"{origin}{c['id']}/commandResults/{cmd_id}?api-version={request.query.get('api-version', '')}"
        return web.Response(status=202, headers={"Location": location})

    async def command_result(self, request: web.Request, sub: str, rg: str, name: str,
                             command: str) -> web.StreamResponse:
        self._cluster(sub, rg, name)
        result = self.commands.get(command)
        if result is None:
            raise ArmError(404, "NotFound", f"Command result '{command}' was not found.")
        if result["properties"]["provisioningState"] == "Running":
            return web.Response(status=202, headers={"Location": str(request.url), **self._retry_after()})
        return _json(result)

    # ------------------------------------------------------------------ Microsoft.Network (read-only)
    def _vnet(self, sub: str, rg: str, vnet: str | None = None) -> Any:
        self._scope(sub)
        net = self.st.network
        if net is None or net.resource_group.lower() != rg.lower():
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        if vnet is not None and vnet.lower() != net.name.lower():
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.Network/virtualNetworks/{vnet}' under resource group '{rg}' "
                           "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
        return net

    async def list_vnets(self, request: web.Request, sub: str, rg: str) -> web.StreamResponse:
        return _json({"value": [self._vnet(sub, rg).vnet_json()]})

    async def get_vnet(self, request: web.Request, sub: str, rg: str, vnet: str) -> web.StreamResponse:
        return _json(self._vnet(sub, rg, vnet).vnet_json())

    async def list_subnets(self, request: web.Request, sub: str, rg: str, vnet: str) -> web.StreamResponse:
        net = self._vnet(sub, rg, vnet)
        return _json({"value": [net.subnet_json(n) for n in net.subnets]})

    async def get_subnet(self, request: web.Request, sub: str, rg: str, vnet: str,
                         subnet: str) -> web.StreamResponse:
        net = self._vnet(sub, rg, vnet)
        name = next((n for n in net.subnets if n.lower() == subnet.lower()), None)
        if name is None:
            raise ArmError(404, "NotFound", f"Resource {net.id}/subnets/{subnet} not found.")
        return _json(net.subnet_json(name))

    async def vnet_usages(self, request: web.Request, sub: str, rg: str, vnet: str) -> web.StreamResponse:
        net = self._vnet(sub, rg, vnet)
        profile = self.st.profile
        flat = profile.get("networkPlugin") == "azure" and profile.get("networkPluginMode") != "overlay"
        nodes = sum(1 for n in self.ctx.store.iter_raw(("", "nodes")))
        per_node = 1
        if flat and self.st.pools:
            per_node += max(int(p["properties"].get("maxPods") or 0) for p in self.st.pools.values())
        return _json(net.usages_json({net.node_subnet: nodes * per_node}))

    # ------------------------------------------------------------------ Microsoft.Authorization
    async def permissions(self, request: web.Request, scope: str) -> web.StreamResponse:
        self._scope(scope.split("/")[2])
        return _json(authz.permissions_json(self.ctx))

    # ------------------------------------------------------------------ admin
    async def admin(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        if path == "/_sandbox/faults":
            if request.method == "POST":
                body = await self._body(request)
                try:
                    fault = Faults.from_dict(body)
                except (TypeError, ValueError) as e:
                    raise ArmError(400, "InvalidFault", str(e)) from None
                self.ctx.faults.add(fault)
                return _json(fault.to_dict(), 201)
            if request.method == "GET":
                return _json({"faults": [f.to_dict() for f in self.ctx.faults.active()]})
            if request.method == "DELETE":
                self.ctx.faults.clear()
                return web.Response(status=204)
        if path == "/_sandbox/state" and request.method == "GET":
            return _json(self.st.snapshot())
        raise ArmError(404, "NotFound", f"no admin endpoint {request.method} {request.path}")


ARM_APP = web.AppKey("arm", ArmApp)


def build_app(ctx: SandboxContext) -> web.Application:
    """The ARM endpoint application for ``ctx`` (see the module docstring)."""
    arm = ArmApp(ctx)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", arm.dispatch)
    app[ARM_APP] = arm
    return app
