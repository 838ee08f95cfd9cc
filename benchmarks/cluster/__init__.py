"""`python -m benchmarks cluster`: a Redis Cluster of three masters beside a single Redis."""
