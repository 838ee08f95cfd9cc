"""Words that agree with their numbers in what conveyor prints: "1 attempt", "2 attempts"."""

from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """`number` and `noun`, plural unless the number is one ("1 job", "0 jobs", "3 jobs")."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
