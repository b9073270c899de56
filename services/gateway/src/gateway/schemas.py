"""Request and response models of the gateway's own API."""
