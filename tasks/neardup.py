"""Near-duplicate search over 64-bit perceptual hashes without comparing every pair.

Multi-index hashing: cut each hash into ``max_distance + 1`` bands. Two hashes within
Hamming distance ``d`` differ in at most ``d`` bits, so by pigeonhole at least one band
is identical; only hashes that share a band value are compared bit for bit.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

HASH_BITS = 64


def parse_hash(hex_hash: str) -> int:
    """A 16-hex-digit hash string (the images table's ``phash``) as an int."""
    return int(hex_hash, 16)


def _bands(max_distance: int) -> list[tuple[int, int]]:
    """(shift, mask) for ``max_distance + 1`` bands covering all 64 bits."""
    count = max_distance + 1
    edges = [round(i * HASH_BITS / count) for i in range(count + 1)]
    return [(lo, (1 << (hi - lo)) - 1) for lo, hi in itertools.pairwise(edges)]


def near_duplicate_pairs(hashes: Sequence[int], max_distance: int) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, whose hashes differ in at most ``max_distance`` bits."""
    if not 0 <= max_distance < HASH_BITS:
        raise ValueError(f"max_distance must be in [0, {HASH_BITS - 1}], got {max_distance}")
    pairs: set[tuple[int, int]] = set()
    for shift, mask in _bands(max_distance):
        buckets: dict[int, list[int]] = defaultdict(list)
        for index, value in enumerate(hashes):
            buckets[(value >> shift) & mask].append(index)
        for members in buckets.values():
            for a_pos, i in enumerate(members):
                for j in members[a_pos + 1 :]:
                    if (hashes[i] ^ hashes[j]).bit_count() <= max_distance:
                        pairs.add((i, j))
    return sorted(pairs)


def connected_groups(count: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Component id per item (the smallest member index), joining every pair."""
    parent = list(range(count))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        root_i, root_j = find(i), find(j)
        if root_i != root_j:
            parent[max(root_i, root_j)] = min(root_i, root_j)
    return [find(i) for i in range(count)]


def near_duplicate_groups(hashes: Sequence[int], max_distance: int) -> list[int]:
    """Group id per hash: items linked by chains of near-duplicate pairs share an id."""
    return connected_groups(len(hashes), near_duplicate_pairs(hashes, max_distance))
