"""careloop's cross-cutting library: one implementation of the platform plumbing for every service."""
