"""Wizard phase 1: the cluster -- from the address flags, or by listing subscriptions and clusters through ARM."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from netmig.cli.wizard_prompts import NO_DEFAULT, Option, Questions
from netmig.commands.errors import cannot_read, translated
from netmig.connection import ADDRESS_KEYS
from netmig.errors import CheckFailed, UsageError


def known_subscriptions() -> list[tuple[str, str]]:
    """(id, label) of the subscriptions this machine knows: AZURE_SUBSCRIPTION_ID and az CLI's profile (no az
    process, no extra SDK: ARM lists clusters per subscription)."""
    out: dict[str, str] = {}
    env = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if env:
        out[env] = "from AZURE_SUBSCRIPTION_ID"
    profile = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure") / "azureProfile.json"
    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        for s in json.loads(profile.read_text(encoding="utf-8-sig")).get("subscriptions") or []:
            if s.get("id"):
                out.setdefault(s["id"], f"{s.get('name') or ''}{' (default)' if s.get('isDefault') else ''}"
                                        " (az CLI profile)")
    return sorted(out.items(), key=lambda kv: kv[1])


def arm_subscriptions(base: Any, echo: Any, fallback: str) -> list[tuple[str, str]] | None:
    """(id, display name) of the Enabled subscriptions listed through ARM (``AksGateway.list_subscriptions``) at
    ``base``'s endpoint with its credential and CA bundle; None, after one line saying why and ``fallback``, when it
    fails."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway

    try:
        return AksGateway(base).list_subscriptions()
    except arm.ArmError as e:  # not a failure: the locally known subscriptions are offered instead
        echo(f"note: cannot list the subscriptions through ARM ({(str(e) or repr(e)).splitlines()[0]}); {fallback}")
        return None


def subscription_choices(listed: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """(id, label): the subscriptions listed through ARM, then the locally known ones ARM did not list."""
    out = {sid: f"{name} (listed through ARM)".lstrip() for sid, name in listed or []}
    for sid, label in known_subscriptions():
        if sid in out:
            continue
        out[sid] = label if listed is None else f"{label} (not listed through ARM)"
    return list(out.items())


def pick_cluster(q: Questions, opts: dict[str, Any], echo: Any) -> tuple[Any, dict[str, Any]]:
    """(ArmTarget, address flags) from the flags, or by listing clusters through ARM."""
    from netmig.azure.gateway import AksGateway
    from netmig.connection import PUBLIC_ARM, ArmTarget, from_sandbox_dir, resolve
    from netmig.model.cluster import ClusterRef

    if opts.get("cluster") or (opts.get("subscription") and opts.get("resource_group") and opts.get("name")):
        target = resolve(**{k: opts.get(k) for k in ADDRESS_KEYS if k != "sandbox"})
        return target, {"cluster": target.ref.resource_id, "arm_endpoint": opts.get("arm_endpoint"),
                        "ca_bundle": opts.get("ca_bundle")}
    if opts.get("sandbox"):
        base = from_sandbox_dir(opts["sandbox"])
        subscription = base.ref.subscription_id
        echo(f"Sandbox {opts['sandbox']}: ARM at {base.endpoint}, subscription {subscription}")
        listed = arm_subscriptions(base, echo, "using the sandbox's own")
        if listed is not None:
            names = dict(listed)
            echo(f"Subscription {subscription}: {names[subscription]} (listed through ARM)" if subscription in names
                 else f"note: ARM does not list the sandbox's subscription {subscription}")
    else:
        if opts.get("ca_bundle") and not Path(opts["ca_bundle"]).exists():
            raise UsageError(f"CA bundle {opts['ca_bundle']} does not exist", "pass a PEM file to --ca-bundle")
        subscription = str(opts.get("subscription") or "")
        if not subscription:
            probe = ArmTarget(ref=ClusterRef("-", "-", "-"), endpoint=(opts.get("arm_endpoint") or PUBLIC_ARM)
                              .rstrip("/"), ca_bundle=opts.get("ca_bundle"))
            known = subscription_choices(arm_subscriptions(
                probe, echo, "showing the ones known locally (AZURE_SUBSCRIPTION_ID, az CLI profile), or type one"))
            options = [Option(f"{sid}  {label}", sid) for sid, label in known] + [Option("another subscription id",
                                                                                         "")]
            subscription = q.select("Subscription", options, flag="--subscription ID",
                                    default=known[0][0] if len(known) == 1 else NO_DEFAULT) if known else ""
            if not subscription:
                subscription = q.text("Subscription id", flag="--subscription ID",
                                      validate=lambda s: None if s else "a subscription id, e.g. from az account list")
        base = ArmTarget(ref=ClusterRef(subscription, "-", "-"),
                         endpoint=(opts.get("arm_endpoint") or PUBLIC_ARM).rstrip("/"), ca_bundle=opts.get("ca_bundle"))
    with translated(f"cannot list the clusters of subscription {subscription}",
                    "check the subscription and the credentials (az login / AZURE_* variables)"):
        refs = AksGateway(base).list_clusters()
    if opts.get("resource_group"):
        refs = [r for r in refs if r.resource_group.lower() == str(opts["resource_group"]).lower()]
    if not refs:
        raise CheckFailed(f"no AKS cluster in subscription {subscription}"
                          + (f" resource group {opts['resource_group']}" if opts.get("resource_group") else ""),
                          "pick another subscription (--subscription)")
    if len(refs) == 1:
        ref = refs[0]
        echo(f"Cluster {ref} (the only one listed)")
    else:
        ref = q.select("Cluster", [Option(str(r), r) for r in refs],
                       flag="--cluster RESOURCE_ID (or --resource-group RG --name NAME)")
    if opts.get("sandbox"):
        return replace(base, ref=ref), {"sandbox": opts["sandbox"]}
    target = replace(base, ref=ref)
    return target, {"cluster": ref.resource_id, "arm_endpoint": opts.get("arm_endpoint"),
                    "ca_bundle": opts.get("ca_bundle")}


def describe_cluster(info: Any) -> str:
    n = info.network
    lines = [f"Cluster {info.ref} ({info.location}), Kubernetes {info.kubernetes_version}, {info.provisioning_state}",
             f"  network profile  plugin {n.plugin}" + (f" (mode {n.plugin_mode})" if n.plugin_mode else "")
             + f", policy {n.policy}, dataplane {n.dataplane}"
             + (f", pod CIDR {n.pod_cidr}" if n.pod_cidr else "") + (f", service CIDR {n.service_cidr}"
                                                                       if n.service_cidr else ""),
             f"  in short         {n.describe()}",
             "  node pools       " + ", ".join(f"{p.name} ({p.mode}, {p.os_type}, {p.count} nodes, "
                                               f"{p.provisioning_state})" for p in info.pools)]
    return "\n".join(lines)




def read_cluster(target: Any) -> Any:
    """The cluster's ``ClusterInfo`` (``CheckFailed`` when ARM cannot be read)."""
    from netmig.azure.gateway import AksGateway

    with cannot_read(target):
        return AksGateway(target).cluster()
