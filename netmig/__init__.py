"""aks-netmig: safe, resumable AKS network migrations.

The core library (everything under ``netmig`` except ``netmig.cli`` and ``netmig_sandbox``) never imports
prefect or questionary; ``netmig.azure`` is the only importer of azure.*, ``netmig.kube`` the only importer of
kubernetes. ``netmig_sandbox`` is the embedded simulated AKS and is never imported by product logic.
"""

__version__ = "0.1.0"
