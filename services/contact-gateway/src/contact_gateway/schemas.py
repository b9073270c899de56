"""Request and response models of the contact-gateway API."""
