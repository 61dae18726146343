"""Plain typed values shared by every layer: cluster addresses, network profiles, checks, plans. No I/O."""
