"""Domain rules of the contact-gateway service."""
