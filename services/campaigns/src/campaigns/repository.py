"""Every query of the campaigns service lives here."""
