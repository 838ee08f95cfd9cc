"""`python -m benchmarks sealing`: what signing and encrypting jobs cost, per backend.

The same jobs enqueued and drained with no keys, with a signing key, with an encryption
key and with both, side by side in alternating rounds on SQLite, Redis and PostgreSQL;
reported per job and as ratios to no keys.
"""
