"""The only importer of the ``kubernetes`` client: the cluster gateway (inventory, watches, backups, probes,
leases). Objects cross this boundary as plain JSON dicts, exactly as the API serves them."""
