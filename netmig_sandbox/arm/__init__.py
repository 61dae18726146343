"""The sandbox's simulated Microsoft.ContainerService (ARM) endpoint.

- ``state``: ``ArmState`` (cluster / agent pools as ARM JSON, operations, etags), ``ArmError``.
- ``validation``: how AKS refuses network-profile transitions (stable error codes, ``CODES``).
- ``operations``: long-running operations (start, lro faults, abort: Canceling -> Canceled).
- ``reimage``: the node-pool reimage a network-profile change triggers; PDB-aware ``evict``.
- ``server``: ``build_app(ctx)``, the aiohttp application the real SDK talks to.
"""
