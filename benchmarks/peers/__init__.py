"""One small module per system for the Redis comparison, each run in that system's virtualenv.

A module imports its own library and `benchmarks.peers.harness` (standard library only) and
exports `PEER`: how to connect a producer, how to run one worker, and its settings in words.
Run them as `python -m benchmarks.peers NAME COMMAND ...` from the repository root, never as
files: the modules share their libraries' names (arq, rq, celery...).
"""
