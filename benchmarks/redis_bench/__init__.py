"""`python -m benchmarks redis`: conveyor beside its peers on one private Redis, one table.

The server and its ceiling live here; the workloads, the peers' virtualenvs and the table are
shared with the PostgreSQL run (`benchmarks.versus`).
"""
