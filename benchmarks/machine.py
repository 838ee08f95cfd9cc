"""One line on where a benchmark ran: the commit, the kernel, the CPUs and the memory."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import psutil


def machine() -> str:
    commit = git("rev-parse", "--short", "HEAD")
    dirty = " (uncommitted changes)" if git("status", "--porcelain", "--", ":/src") else ""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    return (
        f"conveyor commit {commit or '?'}{dirty}; {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB"
    )


def filesystem(folder: Path) -> str:
    best = max(
        (p for p in psutil.disk_partitions(all=True) if str(folder).startswith(p.mountpoint)),
        key=lambda p: len(p.mountpoint),
        default=None,
    )
    if best is None:
        return "?"
    warning = " (tmpfs: fsync costs nothing, so durable commits look cheap)"
    return f"{best.fstype} ({best.mountpoint})" + (warning if best.fstype == "tmpfs" else "")


def git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()
