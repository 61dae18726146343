"""The embedded sandbox: a simulated AKS speaking the real wire protocols.

An ARM endpoint (HTTPS, self-signed CA) and a Kubernetes API (HTTPS, same CA) served from one asyncio loop, with
simulated nodes, kubelet, reimages and a per-node policy dataplane. Product code never imports this package: it
only ever sees "an ARM endpoint and a Kubernetes API". Only ``netmig.cli`` (the ``sandbox``, ``demo`` and
``verify`` commands, lazily) and the tests import it.

Contract:
- The sandbox's own third-party modules are ``REQUIRES``: the distribution's optional dependency set ``EXTRA``
  (``pip install 'aks-netmig[sandbox]'``) brings them. Importing this package (``__init__``), ``control`` and
  ``scenarios`` needs none of them; ``runtime`` / ``serve`` (what starts a sandbox) need all of them.
- ``missing_requirements()`` names the modules of ``REQUIRES`` that are not installed, without importing any of
  them: a caller that is about to start a sandbox asks it first, so that only a missing extra is reported as
  "install the extra" and any other import failure stays an error of its own.
- ``manifest_path(name)``: the manifests the sandbox ships (package data, also in a non-editable install).
"""

from importlib.util import find_spec
from pathlib import Path

EXTRA = "sandbox"
REQUIRES = ("aiohttp", "trustme")  # the HTTP server and the local CA; keep in step with pyproject's [sandbox]

MANIFESTS = Path(__file__).parent / "manifests"


def missing_requirements() -> list[str]:
    """The modules of ``REQUIRES`` that cannot be found (not installed), in ``REQUIRES`` order."""
    return [name for name in REQUIRES if find_spec(name) is None]


def manifest_path(name: str) -> Path:
    """A manifest the sandbox ships (e.g. ``tigera-operator.yaml``, for the calico-to-self-managed plan)."""
    path = MANIFESTS / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in MANIFESTS.glob("*.yaml")))
        raise FileNotFoundError(f"the sandbox ships no manifest {name!r}; known: {known}")
    return path
