"""What the peer comparisons share, whatever the server: the workloads, run the same way for
every system; one system's cells over the rounds; the peers' virtualenvs; the table; the
profile. `benchmarks.redis_bench` and `benchmarks.postgres_bench` each add their server.

The peers run in virtualenvs of their own (benchmarks/.venvs/, from the pinned requirements in
benchmarks/peers/requirements/SERVER/), driven through `benchmarks.peers.harness`; this package
runs in the repository's virtualenv and owns the servers, the measurements and the reports.
"""
