"""Domain rules of the campaigns service."""
