"""Request and response models of the campaigns API."""
