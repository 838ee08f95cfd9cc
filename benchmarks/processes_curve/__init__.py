"""`python -m benchmarks processes-curve`: one store drained by 1, 2 and 4 worker processes."""
