"""A synthetic operator: subscribers, a plan catalogue, a contact graph, feed streams and complaints.

Everything is deterministic from a seed, so the demo, the benchmarks, the drills and the tests see
the same operator byte for byte. ``careloop simulate`` (``simulate.cli``) writes it to files for
bulk import, or sends it (bounded in count and time, to this machine only) to NATS or the API.
Documented in docs/simulator.md.
"""
