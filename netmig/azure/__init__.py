"""The only importer of azure.* SDKs: the AKS gateway (clusters, pools, long-running operations, credentials).

Errors from the SDK are translated at this boundary into ``netmig.azure.errors`` types, so callers decide
retries by type; tokens never appear in messages.
"""
