"""A sandbox fleet: many simulated AKS clusters across two subscriptions behind ONE ARM endpoint.

Contract:
- ``FleetSandbox(directory, time_scale, light=0).start()`` starts every *full* member of ``members()`` as its own
  ``Sandbox`` (its own ARM app and Kubernetes API) in ``DIR/clusters/NAME/`` (that folder's ``sandbox.json`` is the
  member's own connection file: ``--sandbox DIR/clusters/NAME`` addresses one cluster, its ``arm-requests.jsonl``
  logs that cluster's requests), plus ``light`` light members (ARM data only, no Kubernetes API), then serves the
  fleet ARM endpoint and writes ``DIR/sandbox.json`` with ``arm_endpoint``, ``ca_bundle``, ``token``,
  ``subscriptions`` and ``clusters`` (one entry per member: ``id``, ``subscription_id``, ``resource_group``,
  ``cluster_name``, ``light`` and, for full members, ``dir``). ``subscription_id`` / ``resource_group`` /
  ``cluster_name`` at the top name the first member, so single-cluster readers still get a valid file.
- The fleet ARM endpoint (bearer ``token``; every request appended to ``DIR/arm-requests.jsonl``):
    GET  /subscriptions                                     both subscriptions
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters   that subscription's clusters
    POST /providers/Microsoft.ResourceGraph/resources       only ``CLUSTER_QUERY`` (whitespace-insensitive);
         ``subscriptions`` filter, ``options.$top`` (default/max 1000) and ``options.$skipToken`` paging;
         anything else is 400 ``UnsupportedQuery`` naming the query it serves
    any  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}...
         a full member: proxied to that member's own ARM endpoint (the answer's operation URLs point back here);
         a light member: GET of the cluster only
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operations|operationresults/{id}
         proxied to the member that started the operation
- ``resource_graph = False`` (in-process) makes the Resource Graph endpoint answer 404 (clients fall back).
- ``identity`` (``sandbox start --scenario fleet --role FILE``: the ``aks-netmig permissions --json`` document) makes
  the whole fleet run as that restricted identity: every full member enforces it (its ARM app and its Kubernetes
  RBAC, as a single sandbox does), and the front enforces its Azure role (``netmig_sandbox.arm.authz``): a request
  whose action the role does not grant answers 403 AuthorizationFailed (Resource Graph needs
  ``Microsoft.ResourceGraph/resources/read``); it serves ``GET /subscriptions/{s}/providers/Microsoft.Authorization/
  permissions`` (the role, needing ``Microsoft.Authorization/permissions/read``); and, like Azure, it filters
  without a word: the subscription list holds only subscriptions the role may read
  (``Microsoft.Resources/subscriptions/read``), a Resource Graph answer only clusters it may read
  (``Microsoft.ContainerService/managedClusters/read``). Every front log entry names the ``action`` it needed.
- ``stop()`` stops the front and every member. Member scenario tweaks the sandbox applies after start:
  ``power_state`` (e.g. Stopped) and ``faults`` (from the member's scenario: e.g. the member scripted to fail its
  reimage carries an ``lro`` fail fault).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import ssl
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import trustme
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from netmig_sandbox.arm import authz
from netmig_sandbox.arm.state import ArmState
from netmig_sandbox.runtime import DEFAULT_POLL_SECONDS, DEFAULT_TIME_SCALE, Sandbox
from netmig_sandbox.scenarios import deep_merge, load, normalize

SUB_A = "00000000-0000-0000-0000-00000000f1a1"
SUB_B = "00000000-0000-0000-0000-00000000f1b2"
CLUSTER_QUERY = ("Resources | where type =~ 'microsoft.containerservice/managedclusters' | project id, name, "
                 "type, location, resourceGroup, subscriptionId, tags, sku, identity, properties")
PAGE_MAX = 1000

# name, base scenario, subscription, resource group, tags, extras (power_state, faults, network_profile)
_FULL: list[tuple[str, str, str, str, dict[str, str], dict[str, Any]]] = [
    ("aks-canary-dev", "kubenet-calico", SUB_A, "rg-dev", {"env": "dev", "netmig-canary": "true"}, {}),
    ("aks-kubenet-dev", "kubenet-calico", SUB_A, "rg-dev", {"env": "dev"}, {}),
    ("aks-kubenet-prod", "kubenet-calico", SUB_A, "rg-prod",
     {"env": "prod", "netmig-maintenance-window": "Sat 02:00-06:00"}, {}),
    ("aks-npm-dev", "npm", SUB_A, "rg-dev", {"env": "dev"}, {}),
    ("aks-npm-prod", "npm", SUB_A, "rg-prod", {"env": "prod"}, {}),
    ("aks-npm-windows", "npm-windows", SUB_A, "rg-prod", {"env": "prod"}, {}),
    ("aks-mcalico-dev", "managed-calico", SUB_B, "rg-dev", {"env": "dev"}, {}),
    ("aks-mcalico-prod", "managed-calico", SUB_B, "rg-prod", {"env": "prod"}, {}),
    ("aks-cilium-done", "npm", SUB_B, "rg-prod", {"env": "prod"},
     {"network_profile": {"networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "cilium",
                          "networkDataplane": "cilium", "podCidr": "10.244.0.0/16"}}),
    ("aks-stopped-dev", "kubenet-calico", SUB_B, "rg-dev", {"env": "dev"}, {"power_state": "Stopped"}),
    ("aks-npm-flaky", "npm", SUB_B, "rg-dev", {"env": "dev"},
     {"faults": [{"target": "lro", "kind": "fail", "code": "ReimageFailed",
                  "message": "scripted failure: the reimage of this cluster fails", "times": None}]}),
    ("aks-kubenet-old", "kubenet-calico-k126", SUB_B, "rg-prod", {"env": "prod"}, {}),
]
_LIGHT_BASES = ("kubenet-calico", "npm", "managed-calico", "npm-windows")


def members(light: int = 0) -> list[dict[str, Any]]:
    """The fleet's member scenarios: the full ones (see ``_FULL``), then ``light`` generated light ones (ARM only),
    alternating subscriptions, environments and bases. Each is a normalized scenario dict with ``fleet``:
    ``{"light": bool, "power_state": str}``."""
    out: list[dict[str, Any]] = []
    bases: dict[str, dict[str, Any]] = {}

    def base(name: str) -> dict[str, Any]:
        if name not in bases:
            bases[name] = load(name)
        return bases[name]

    for name, b, sub, rg, tags, extra in _FULL:
        over: dict[str, Any] = {"name": f"fleet-{name}", "cluster": {
            "name": name, "subscription_id": sub, "resource_group": rg, "tags": tags}}
        if extra.get("network_profile"):
            over["cluster"]["network_profile"] = extra["network_profile"]
        if extra.get("faults"):
            over["faults"] = extra["faults"]
        sc = deep_merge(base(b), over)
        sc["fleet"] = {"light": False, "power_state": extra.get("power_state") or "Running"}
        out.append(sc)
    for i in range(light):
        b = _LIGHT_BASES[i % len(_LIGHT_BASES)]
        env = "prod" if i % 3 == 0 else "dev"
        sc = deep_merge(base(b), {"cluster": {
            "name": f"aks-light-{i:04d}", "subscription_id": SUB_A if i % 2 == 0 else SUB_B,
            "resource_group": f"rg-{env}-{i % 10}", "tags": {"env": env},
            "pools": [{"name": "system", "mode": "System", "count": 1 + i % 5}]}, "objects": [], "faults": []})
        sc["fleet"] = {"light": True, "power_state": "Running"}
        out.append(sc)
    return [normalize(m) | {"fleet": m["fleet"]} for m in out]


class FleetSandbox:
    """See the module docstring."""

    def __init__(self, directory: str | Path, time_scale: float = DEFAULT_TIME_SCALE, light: int = 0,
                 poll_seconds: float = DEFAULT_POLL_SECONDS, full: bool = True,
                 identity: dict[str, Any] | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.time_scale = time_scale
        self.poll_seconds = poll_seconds
        self.members = [m for m in members(light) if full or m["fleet"]["light"]]
        self.sandboxes: dict[str, Sandbox] = {}  # lower-cased cluster id -> running member
        self.light: dict[str, ArmState] = {}  # lower-cased cluster id -> ARM-only member
        self.info: dict[str, Any] = {}
        self.token = secrets.token_urlsafe(24)
        self._ops: dict[str, str] = {}  # operation id -> member cluster id
        self.resource_graph = True  # False: the Resource Graph endpoint answers 404 (a tenant without it)
        self.identity = identity  # the restricted identity of every request (None: all-powerful)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> dict[str, Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        entries = []
        try:
            for m in self.members:
                c = m["cluster"]
                st = ArmState.from_scenario(m)
                assert st.cluster is not None
                cid = st.cluster["id"]
                entry: dict[str, Any] = {"id": cid, "subscription_id": c["subscription_id"],
                                         "resource_group": c["resource_group"], "cluster_name": c["name"],
                                         "light": m["fleet"]["light"]}
                if m["fleet"]["light"]:
                    st.cluster["properties"]["powerState"] = {"code": m["fleet"]["power_state"]}
                    self.light[cid.lower()] = st
                else:
                    folder = self.directory / "clusters" / c["name"]
                    member = {k: v for k, v in m.items() if k != "fleet"}
                    if self.identity is not None:
                        member["identity"] = self.identity
                    sb = Sandbox(member, folder, self.time_scale, self.poll_seconds)
                    sb.start()
                    self.sandboxes[cid.lower()] = sb
                    power = m["fleet"]["power_state"]
                    if power != "Running":
                        sb.run(_power_setter(power))
                    entry["dir"] = str(folder)
                entries.append(entry)
            self._start_front()
        except BaseException:
            self.stop()
            raise
        first = entries[0]
        self.info = {
            "kind": "fleet",
            "arm_endpoint": self.endpoint,
            "subscription_id": first["subscription_id"], "resource_group": first["resource_group"],
            "cluster_name": first["cluster_name"],
            "ca_bundle": str(self.directory / "ca.pem"),
            "token": self.token,
            "scenario": "fleet",
            "time_scale": self.time_scale,
            "poll_seconds": self.poll_seconds,
            "subscriptions": [SUB_A, SUB_B],
            "clusters": entries,
        }
        if "dir" in first:
            self.info["kube_server"] = self.sandboxes[first["id"].lower()].info["kube_server"]
            self.info["kubeconfig"] = self.sandboxes[first["id"].lower()].info["kubeconfig"]
        path = self.directory / "sandbox.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.info, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)
        return self.info

    def _start_front(self) -> None:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        (self.directory / "ca.pem").write_bytes(ca.cert_pem.bytes())
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ssl_ctx)
        ready: Future[int] = Future()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                port = self._loop.run_until_complete(self._listen(ssl_ctx))
            except BaseException as e:
                ready.set_exception(e)
                return
            ready.set_result(port)
            try:
                self._loop.run_forever()
            finally:
                self._loop.run_until_complete(self._close())
                self._loop.close()

        self._thread = threading.Thread(target=serve, name="netmig-fleet-front", daemon=True)
        self._thread.start()
        self.endpoint = f"https://127.0.0.1:{ready.result(timeout=60)}"

    async def _listen(self, ssl_ctx: ssl.SSLContext) -> int:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        # the hop to a member stays on loopback inside this sandbox; members use their own throwaway CAs
        self._session = ClientSession(connector=TCPConnector(ssl=False), timeout=ClientTimeout(total=120))
        server = site._server
        return int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        self._loop = self._thread = None
        for sb in self.sandboxes.values():
            sb.stop()

    def __enter__(self) -> FleetSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ serving
    def _log(self, entry: dict[str, Any]) -> None:
        try:
            with (self.directory / "arm-requests.jsonl").open("a") as f:
                f.write(json.dumps(entry) + "\n")
        except OSError:
            pass

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        resp: web.StreamResponse
        action = _action(request.method, request.path)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            resp = _error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        elif action is not None and not self._may(action):
            resp = _error(*authz.failure(action, request.path.rstrip("/")))
        else:
            try:
                resp = await self.route(request)
            except Exception as e:  # a bug here must answer, not hang the client
                resp = _error(500, "InternalServerError", f"{e.__class__.__name__}: {e}")
        self._log({"method": request.method, "path": request.path, "status": resp.status, "time": time.time(),
                   "api_version": request.query.get("api-version"), "action": action})
        return resp

    def _may(self, action: str) -> bool:
        """Whether the fleet's identity (if any) is granted ``action``."""
        role = self.identity.get("azure_role") if self.identity is not None else None
        return authz.allowed(action, *authz.role_actions(role))

    async def route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        low = path.lower()
        if request.method == "POST" and low == "/providers/microsoft.resourcegraph/resources":
            if not self.resource_graph:
                return _error(404, "NoRegisteredProviderFound", "Resource Graph is not available here")
            return await self.query(request)
        if request.method == "GET" and low == "/subscriptions":  # like Azure: only what the caller may read
            readable = self._may("Microsoft.Resources/subscriptions/read")
            return _ok({"value": [_subscription(s) for s in (SUB_A, SUB_B) if readable]})
        if request.method == "GET" and re.fullmatch(r"/subscriptions/[^/]+/providers/microsoft\.authorization/"
                                                    r"permissions", low):
            role = self.identity.get("azure_role") if self.identity is not None else None
            return _ok(authz.permissions_body(*authz.role_actions(role)))
        m = re.fullmatch(r"/subscriptions/([^/]+)/providers/microsoft\.containerservice/managedclusters", low)
        if m and request.method == "GET":
            return _ok({"value": [c for c in await self._all_clusters() if c["id"].lower().startswith(
                f"/subscriptions/{m.group(1)}/")]})
        m = re.match(r"(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.containerservice/"
                     r"managedclusters/[^/]+)", low)
        if m:
            cid = m.group(1)
            if cid in self.sandboxes:
                return await self._proxy(request, cid)
            if cid in self.light and request.method == "GET" and low == cid:
                return _ok(self.light[cid].cluster_json())
            if cid in self.light:
                return _error(400, "LightCluster", "this fleet member is ARM-data only (a light cluster): it "
                                                   "serves GET of the cluster and nothing else")
            return _error(404, "ResourceNotFound", f"The Resource '{path}' was not found.")
        m = re.fullmatch(r"/subscriptions/[^/]+/providers/microsoft\.containerservice/locations/[^/]+/"
                         r"(?:operations|operationresults)/([^/]+)", low)
        if m and request.method == "GET":
            owner = self._ops.get(m.group(1))
            if owner is None:
                return _error(404, "OperationNotFound", f"operation {m.group(1)} is unknown to this fleet")
            return await self._proxy(request, owner)
        return _error(404, "NotFound", f"the sandbox fleet endpoint serves no {request.method} {path}")

    async def _all_clusters(self) -> list[dict[str, Any]]:
        out = []
        for sb in self.sandboxes.values():
            out.append(await asyncio.to_thread(sb.run, lambda ctx: ctx.arm.cluster_json()))
        out.extend(st.cluster_json() for st in self.light.values())
        return out

    async def _proxy(self, request: web.Request, cid: str) -> web.StreamResponse:
        sb = self.sandboxes[cid]
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "content-length")}
        headers["Authorization"] = f"Bearer {sb.info['token']}"
        headers["Host"] = request.host  # the member answers with operation URLs that point back here
        url = sb.info["arm_endpoint"] + request.path_qs
        body = await request.read()
        async with self._session.request(request.method, url, headers=headers, data=body or None) as r:
            data = await r.read()
            out = {k: v for k, v in r.headers.items()
                   if k.lower() in ("content-type", "azure-asyncoperation", "location", "retry-after", "etag")}
            for k in ("Azure-AsyncOperation", "Location"):
                if k in r.headers:
                    op = r.headers[k].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                    self._ops[op.lower()] = cid
            return web.Response(body=data, status=r.status, headers=out)

    async def query(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "BadRequest", "the request body is not JSON")
        query = " ".join(str(body.get("query") or "").split())
        if query.lower() != " ".join(CLUSTER_QUERY.split()).lower():
            return _error(400, "UnsupportedQuery", "the sandbox Resource Graph answers one query only: "
                                                   f"{CLUSTER_QUERY!r}")
        subs = {str(s).lower() for s in body.get("subscriptions") or [SUB_A, SUB_B]}
        options = body.get("options") or {}
        top = min(int(options.get("$top") or PAGE_MAX), PAGE_MAX)
        skip = 0
        if options.get("$skipToken"):
            try:
                skip = int(base64.urlsafe_b64decode(str(options["$skipToken"]).encode()).decode())
            except ValueError:
                return _error(400, "InvalidSkipToken", "the $skipToken is not one this endpoint issued")
        rows = []
        readable = self._may("Microsoft.ContainerService/managedClusters/read")  # else no row, and no word of it
        for c in (await self._all_clusters() if readable else []):
            sub = c["id"].split("/")[2]
            if sub.lower() not in subs:
                continue
            rows.append({"id": c["id"], "name": c["name"], "type": c["type"].lower(), "location": c["location"],
                         "resourceGroup": c["id"].split("/")[4].lower(), "subscriptionId": sub,
                         "tags": c.get("tags") or {}, "sku": c.get("sku"), "identity": c.get("identity"),
                         "properties": c["properties"]})
        rows.sort(key=lambda r: r["id"].lower())
        page = rows[skip:skip + top]
        out: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "data": page, "facets": [],
                               "resultTruncated": "false"}
        if skip + top < len(rows):
            out["$skipToken"] = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
        return _ok(out)


def _action(method: str, path: str) -> str | None:
    """The Azure action a front request needs (``authz.action_for`` for the cluster and listing routes)."""
    low = path.rstrip("/").lower()
    if method.upper() == "POST" and low == "/providers/microsoft.resourcegraph/resources":
        return "Microsoft.ResourceGraph/resources/read"
    if low == "/subscriptions":
        return None  # filtered instead: the subscriptions the caller may read
    return authz.action_for(method, path)


def _power_setter(code: str) -> Any:
    """A ``Sandbox.run`` function that sets the member cluster's power state (e.g. Stopped)."""
    def apply(ctx: Any) -> None:
        ctx.arm.cluster["properties"]["powerState"] = {"code": code}
    return apply


def _ok(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data), content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(text=json.dumps({"error": {"code": code, "message": message}}), status=status,
                        content_type="application/json")


def _subscription(sid: str) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sid}", "subscriptionId": sid, "state": "Enabled",
            "displayName": "Fleet subscription A" if sid == SUB_A else "Fleet subscription B",
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
