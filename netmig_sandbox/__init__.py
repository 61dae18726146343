"""The embedded sandbox: a simulated AKS speaking the real wire protocols.

An ARM endpoint (HTTPS, self-signed CA) and a Kubernetes API (HTTPS, same CA) served from one asyncio loop, with
simulated nodes, kubelet, reimages and a per-node policy dataplane. Product code never imports this package: it
only ever sees "an ARM endpoint and a Kubernetes API". Only ``netmig.cli`` (the ``sandbox`` and ``demo``
commands) and the tests import it.
"""

from pathlib import Path

MANIFESTS = Path(__file__).parent / "manifests"


def manifest_path(name: str) -> Path:
    """A manifest the sandbox ships (e.g. ``tigera-operator.yaml``, for the calico-to-self-managed plan)."""
    path = MANIFESTS / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in MANIFESTS.glob("*.yaml")))
        raise FileNotFoundError(f"the sandbox ships no manifest {name!r}; known: {known}")
    return path
