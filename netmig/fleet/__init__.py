"""Fleets (pure): the scan model and retirement rules (``scan``), rendering (``render``), wave planning (``waves``)."""
