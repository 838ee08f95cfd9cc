"""`python -m benchmarks enqueue`: what one enqueue costs the caller, next to the floor."""
