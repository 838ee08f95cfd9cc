"""`python -m benchmarks postgres`: conveyor beside procrastinate and pgqueuer on one private
PostgreSQL cluster, one table.

The cluster and what it counts live here; the workloads, the peers' virtualenvs and the table
are shared with the Redis run (`benchmarks.versus`).
"""
