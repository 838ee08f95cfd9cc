"""How a worker's claims are shared between its queues.

A claim splits its jobs between the queues that have work, in proportion to their weights
(1 each unless given): with `high:3,low:1` and both full, three jobs of four come from
`high`. Within a queue, jobs come out by priority, then age; priority does not cross
queues, so a busy queue cannot starve the others however urgent its jobs. A queue with
less work than its share gives the rest to the others, so a claim comes back short only
when every queue ran dry.

The shares of a claim are whole jobs: what rounding leaves goes one job each to the first
queues in the order asked. The worker turns that order by the jobs each claim took
(`Rotation`), so over many small claims each queue leads as often as its weight says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from conveyor.errors import ConfigurationError

MAX_WEIGHT = 1000


def parse_queues(text: str) -> dict[str, int]:
    """`"high:3,low:1,default"` as queue -> weight (1 where none is given)."""
    weights: dict[str, int] = {}
    for item in text.split(","):
        name, sep, weight = item.strip().partition(":")
        name = name.strip()
        if not name:
            if sep or item.strip():
                raise ConfigurationError(f"queue {item.strip()!r} has no name: write name:weight")
            continue
        if name in weights:
            raise ConfigurationError(f"queue {name!r} is named twice in --queues")
        weights[name] = _weight(name, weight.strip()) if sep else 1
    if not weights:
        raise ConfigurationError("--queues names no queue: write e.g. high:3,low:1")
    return weights


def _weight(name: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_WEIGHT:
        raise ConfigurationError(
            f"queue {name!r} has weight {text!r}: a weight is a whole number from 1 to {MAX_WEIGHT}"
        )
    return int(text)


def check_weights(queues: Sequence[str], weights: Mapping[str, int]) -> None:
    """Refuse weights that are not whole numbers in range, or name a queue not asked for."""
    for name, weight in weights.items():
        if name not in queues:
            raise ConfigurationError(f"a weight is given for queue {name!r}, not one of {queues}")
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise ConfigurationError(f"queue {name!r} has weight {weight!r}: not a whole number")
        if not 1 <= weight <= MAX_WEIGHT:
            raise ConfigurationError(
                f"queue {name!r} has weight {weight}: a weight is from 1 to {MAX_WEIGHT}"
            )


def shares(queues: Sequence[str], weights: Mapping[str, int], slots: int) -> list[int]:
    """`slots` split over `queues` by weight; the remainder one each, in order."""
    weighed = [weights.get(q, 1) for q in queues]
    total = sum(weighed)
    if total == 0:
        return []
    split = [slots * w // total for w in weighed]
    left = slots - sum(split)  # fewer than len(queues): each fraction is below one
    return [n + (1 if i < left else 0) for i, n in enumerate(split)]


def probed(queues: Sequence[str], weights: Mapping[str, int], limit: int) -> int | None:
    """How many queues with work a claim of `limit` jobs needs to find, or None for all.

    With equal weights the first `limit` queues with work (in the order asked) take every
    job, whatever comes short: the rest of the queues need not be looked at.
    """
    return limit if len({weights.get(q, 1) for q in queues}) <= 1 else None


def fill(
    queues: Sequence[str],
    weights: Mapping[str, int],
    limit: int,
    take: Callable[[list[tuple[str, int]]], Iterable[int]],
) -> None:
    """Claim up to `limit` jobs fairly, a round at a time.

    `take` claims up to n jobs from each (queue, n) of a round and says how many it got. A
    queue that came short has no more; its slots go to the others in the next round. Every
    round fills the claim or drops a queue, so there are at most len(queues) of them, and a
    queue is read only when it is given a share.
    """
    open_ = list(queues)
    left = limit
    while left > 0 and open_:
        plan = [(q, n) for q, n in zip(open_, shares(open_, weights, left), strict=True)]
        asked = [(q, n) for q, n in plan if n > 0]
        got = dict.fromkeys(open_, 0)
        for (q, _), taken in zip(asked, take(asked), strict=True):
            got[q] = taken
            left -= taken
        open_ = [q for q, n in plan if got[q] == n]


class Rotation:
    """The order of a worker's queues for each claim: the leader turns by what was served.

    The leaders follow smooth weighted round robin, one step per job claimed: each step
    every queue earns its weight, and the richest leads and pays the total. With `a:3,b:1`
    and claims of one job the leaders run a, a, b, a, ...; with equal weights and claims of
    100 jobs from 1,000 queues, each claim begins where the last one ended.
    """

    def __init__(self, queues: Sequence[str], weights: Mapping[str, int]) -> None:
        self.queues = list(queues)
        self._weights = [weights.get(q, 1) for q in self.queues]
        self._total = sum(self._weights)
        self._even = len(set(self._weights)) == 1
        self._credit = [0] * len(self.queues)
        self._leader = 0 if self._even else self._step()

    def order(self) -> list[str]:
        """The queues, the leader first, then the others in their turn."""
        return self.queues[self._leader :] + self.queues[: self._leader]

    def advance(self, served: int) -> None:
        """Move on by the jobs the last claim took (the pattern repeats every total weight)."""
        if self._even:
            self._leader = (self._leader + served) % len(self.queues)
            return
        for _ in range(served % self._total):
            self._leader = self._step()

    def _step(self) -> int:
        for i, weight in enumerate(self._weights):
            self._credit[i] += weight
        leader = max(range(len(self.queues)), key=self._credit.__getitem__)
        self._credit[leader] -= self._total
        return leader
