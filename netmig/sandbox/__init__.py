"""The embedded sandbox: a simulated AKS speaking the real wire protocols.

An ARM endpoint (HTTPS, self-signed CA) and a Kubernetes API (HTTPS, same CA) served from one asyncio loop, with
simulated nodes, kubelet, reimages and a per-node policy dataplane. Product code never imports this package: it
only ever sees "an ARM endpoint and a Kubernetes API". Only ``netmig.cli`` (the ``sandbox`` and ``demo``
commands) and the tests import it.
"""
