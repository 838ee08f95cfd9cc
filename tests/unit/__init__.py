"""Unit tests: the call-site checks and the public surface, without a worker."""
