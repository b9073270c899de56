"""Every query of the contact-gateway service lives here."""
