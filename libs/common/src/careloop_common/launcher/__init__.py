"""The ``careloop`` command: run the whole platform on one machine, check it, migrate it."""
