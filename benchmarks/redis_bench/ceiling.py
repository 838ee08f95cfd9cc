"""The ceiling: `redis-benchmark` against the same server, plain and pipelined."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import subprocess

TESTS = "set,lpush,lpop"
CLIENTS = 50  # redis-benchmark's default


@dataclasses.dataclass(frozen=True, slots=True)
class Ceiling:
    pipeline: int
    requests: int
    ops_per_second: dict[str, float]  # test name (upper case) -> requests per second

    @property
    def command(self) -> str:
        return (
            f"redis-benchmark -t {TESTS} -n {self.requests} -c {CLIENTS} -P {self.pipeline} --csv"
        )


def measure(port: int, pipeline: int, requests: int) -> Ceiling:
    binary = shutil.which("redis-benchmark")
    if binary is None:
        raise RuntimeError("no redis-benchmark on PATH")
    argv = [
        binary, "-h", "127.0.0.1", "-p", str(port), "-t", TESTS, "-n", str(requests),
        "-c", str(CLIENTS), "-P", str(pipeline), "--csv",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    rates = {}
    for row in csv.reader(io.StringIO(done.stdout)):
        if len(row) >= 2 and row[0] != "test":
            rates[row[0].split()[0].upper()] = float(row[1])
    return Ceiling(pipeline, requests, rates)
