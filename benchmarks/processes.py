"""Worker processes: start one with subprocess, stop it, and read what it cost.

CPU time comes from `wait4` on the child. Peak RSS comes from the kernel's high-water mark
(`VmHWM` in /proc/PID/status), read just before the stop: `ru_maxrss` cannot be used, because
Linux carries the parent's RSS at fork into the child's figure across the exec.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent  # `python -m benchmarks...` runs from here


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceUse:
    peak_rss_bytes: int
    cpu_seconds: float
    exit_code: int


class WorkerProcess:
    """One worker, started as `python -m <module> <args>` with its stderr kept in a file.

    `python` is this interpreter unless given: the Redis peers run in virtualenvs of their own.
    """

    def __init__(
        self,
        module: str,
        args: list[str],
        stderr_path: Path,
        stop_signal: signal.Signals,
        python: str = sys.executable,
    ) -> None:
        self.stderr_path = stderr_path
        self.stop_signal = stop_signal
        with stderr_path.open("wb") as stderr:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                [python, "-m", module, *args],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self._ps = psutil.Process(self.proc.pid)

    def cpu_seconds(self) -> float:
        times = self._ps.cpu_times()
        return times.user + times.system

    def alive(self) -> bool:
        # psutil, not Popen.poll(): polling would reap the child and lose its rusage
        try:
            return self._ps.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def peak_rss_bytes(self) -> int:
        """The process's peak RSS so far (its current RSS where /proc has no VmHWM)."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            status = ""
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
        try:
            return int(self._ps.memory_info().rss)
        except psutil.NoSuchProcess:
            return 0

    def stop(self, timeout: float = 30.0) -> ResourceUse:
        """Ask for a graceful stop; kill it if it does not exit within `timeout`."""
        peak = self.peak_rss_bytes()
        if self.proc.returncode is None:
            self.proc.send_signal(self.stop_signal)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.proc.kill()
                pid, status, usage = os.wait4(self.proc.pid, 0)
                break
            time.sleep(0.01)
        code = os.waitstatus_to_exitcode(status)
        self.proc.returncode = code  # reaped here; keep Popen from waiting again
        return ResourceUse(
            peak_rss_bytes=peak,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            exit_code=code,
        )

    def stderr_tail(self, lines: int = 15) -> str:
        text = self.stderr_path.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])
