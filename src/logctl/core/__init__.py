"""The pure core of logctl: data in, decisions out.

Nothing in this package performs I/O, sleeps, reads the clock or logs, and nothing here
imports psycopg, websockets or textual (``tests/test_core_purity.py`` checks that).
Functions that depend on time take ``now`` as an argument.
"""
