"""Near-duplicate search finds exactly the pairs a brute-force comparison finds."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.neardup import near_duplicate_groups, near_duplicate_pairs, parse_hash


def _brute_force(hashes: list[int], max_distance: int) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if (hashes[i] ^ hashes[j]).bit_count() <= max_distance
    ]


@pytest.mark.parametrize("max_distance", [0, 1, 4, 8, 12])
def test_pairs_match_brute_force(max_distance: int) -> None:
    rng = np.random.default_rng(max_distance)
    base = [int(v) for v in rng.integers(0, 2**63, 60, dtype=np.uint64)]
    hashes = list(base)
    for value in base[:30]:  # near copies: flip a few random bits
        flips = rng.choice(64, size=int(rng.integers(0, max_distance + 3)), replace=False)
        hashes.append(value ^ sum(1 << int(b) for b in flips))
    assert near_duplicate_pairs(hashes, max_distance) == _brute_force(hashes, max_distance)


def test_empty_and_single() -> None:
    assert near_duplicate_pairs([], 4) == []
    assert near_duplicate_groups([7], 4) == [0]


def test_groups_follow_chains() -> None:
    a = parse_hash("00000000000000ff")
    hashes = [a, a ^ 0b1, a ^ 0b11, parse_hash("ffffffffffffff00")]
    assert near_duplicate_groups(hashes, 1) == [0, 0, 0, 3]


def test_out_of_range_distance_is_refused() -> None:
    with pytest.raises(ValueError, match="max_distance"):
        near_duplicate_pairs([1, 2], 64)
