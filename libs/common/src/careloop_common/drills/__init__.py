"""Fault drills: the platform as real processes under load, one fault at a time, then a count of what was
accepted, published, applied and sent, and of what was lost or doubled (``careloop drill <name>``)."""
