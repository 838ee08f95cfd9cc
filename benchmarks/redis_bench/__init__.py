"""`python -m benchmarks redis`: conveyor beside its peers on one private Redis, one table.

The peers run in virtualenvs of their own (benchmarks/.venvs/, from the pinned requirements in
benchmarks/peers/requirements/), driven through `benchmarks.peers.harness`; this package runs
in the repository's virtualenv and owns the server, the measurements and the report.
"""
