"""`--queues high:3,low:1`: the weights parse, bad ones get one line, and the leader turns."""

from __future__ import annotations

import collections

import pytest

from conveyor.errors import ConfigurationError
from conveyor.fair_share import Rotation, parse_queues, shares


def test_queues_parse_with_and_without_weights() -> None:
    assert parse_queues("high:3, low:1,default") == {"high": 3, "low": 1, "default": 1}
    assert parse_queues("a,") == {"a": 1}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("high:x", "'high' has weight 'x'"),
        ("high:0", "'high' has weight '0'"),
        ("high:1001", "'high' has weight '1001'"),
        ("high:-2", "'high' has weight '-2'"),
        ("high:", "'high' has weight ''"),
        (":3", "queue ':3' has no name"),
        ("a,a:2", "'a' is named twice"),
        (",", "names no queue"),
    ],
)
def test_bad_queues_get_one_line(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as raised:
        parse_queues(text)
    assert "\n" not in str(raised.value)


def test_shares_follow_the_weights_and_the_remainder_goes_first() -> None:
    assert shares(["a", "b"], {"a": 3, "b": 1}, 40) == [30, 10]
    assert shares(["a", "b", "c"], {}, 4) == [2, 1, 1]
    assert shares(["b", "a"], {"a": 3}, 1) == [1, 0]


def leaders(rotation: Rotation, claims: int, served: int) -> collections.Counter[str]:
    counted: collections.Counter[str] = collections.Counter()
    for _ in range(claims):
        counted[rotation.order()[0]] += 1
        rotation.advance(served)
    return counted


def test_the_leader_turns_as_often_as_each_weight_says() -> None:
    assert leaders(Rotation(["high", "low"], {"high": 3}), 400, 1) == {"high": 300, "low": 100}
    assert leaders(Rotation(["a", "b", "c"], {}), 300, 1) == {"a": 100, "b": 100, "c": 100}


def test_a_claim_of_many_jobs_moves_the_leader_past_the_queues_it_served() -> None:
    rotation = Rotation([f"q{i}" for i in range(1000)], {})
    rotation.advance(100)
    assert rotation.order()[:2] == ["q100", "q101"]
    rotation.advance(950)
    assert rotation.order()[0] == "q50"


def test_a_rotation_keeps_every_queue_once() -> None:
    rotation = Rotation(["a", "b", "c"], {"b": 2})
    for served in range(10):
        assert sorted(rotation.order()) == ["a", "b", "c"]
        rotation.advance(served)
