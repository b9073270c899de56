"""Every query of the gateway lives here."""
