"""Stand-ins for the systems outside careloop that the contact gateway talks to (an SMSC, a voice platform).

Each speaks the real protocol over a socket, for tests, benchmarks and the local demo.
"""
