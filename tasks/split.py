"""Group-aware, stratified, deterministic train/val(/test) splits that never leak.

Consecutive drone frames are near-copies: a split per image puts one frame in train and
its neighbour in val, and the validation score lies. So images are first put in
**groups** that never straddle splits, then whole groups are assigned to splits.

Groups (``group_by``):

* ``folder``: the parent prefix of the key (a flight). Images at the root share one group.
* ``regex:PATTERN``: the first capture group of ``re.search(PATTERN, key)``; an image
  whose key does not match is its own group (logged as a warning with the count).
* ``time:MINUTES``: fixed windows of ``exif_datetime`` (``MINUTES`` long, counted from the
  Unix epoch), per folder; images without a readable time fall back to their folder group
  (logged). Fixed windows, not gaps, so adding a frame never re-cuts existing windows.
* ``none``: every image is its own group.

Then, when ``near_dup_distance`` is not None and the images table has ``phash``, every
near-duplicate cluster (pairs within ``near_dup_distance`` bits, joined transitively) is
merged into one group, whatever ``group_by`` says. A merged group is named after the
smallest of the group ids it joined.

Assignment: groups go, largest first (images, then instances), to the split where the
cost ``sum over splits s and quantities q of share(s, q) ** 2 / fraction(s)`` rises least.
The quantities are the image count, the background-image count and each class's instance
count; ``share`` is the split's count over the total. The cost is smallest exactly when
every share equals its split's fraction, so splits fill at the same relative pace and a
split past its target is avoided. Ties are broken by a hash of (seed, group id, split).

**Tolerance** (:data:`SPLIT_TOLERANCE`): each split's share of the images, of the
background images and of every class's instances aims to be within ±0.05 of its fraction,
or within the largest single group's share of that quantity when groups are coarser than
that (the group constraint wins). :func:`split_summary` reports the shares and
:func:`balance_violations` lists any quantity outside it.

**Deterministic and stable**: the same images (any row order), boxes, parameters and seed
give the same groups and splits; the seed only breaks ties between equally good choices.
Without ``frozen`` there is no guarantee under *additions*: a new group, or a grown one,
changes the counts the greedy sees for every group assigned after it, so those may move.
The guarantee for a growing dataset is ``frozen`` (``--freeze-from``): every image it
names keeps its split, its whole group follows it, and only the remaining groups are
assigned, balancing against the frozen counts. Should a frozen map put members of one
group in different splits (a re-grouping merged them), each frozen image still keeps its
split, new members follow the group's majority, and :func:`leakage_audit` lists the pairs
this forces.

Never an empty split: with two or more groups, a split with a positive fraction that got
no group takes the smallest unfrozen group of the split with the most. If everything is one
group, the images are regrouped by near-duplicate clusters alone, and failing that one
image per group; both are logged as warnings because such a split can leak.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from tasks.layout import DATASET_INFO, SPLITS
from tasks.neardup import connected_groups, near_duplicate_pairs, parse_hash
from tasks.retrying import io_task
from tasks.storage import Store, join
from tasks.tables import STATUS_OK

log = logging.getLogger(__name__)

SPLIT_TOLERANCE = 0.05
_BACKGROUND = "__background__"
_IMAGES = "__images__"


# -- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Grouping:
    mode: str  # folder | regex | time | none
    pattern: re.Pattern[str] | None = None
    minutes: float | None = None


def parse_group_by(group_by: str) -> _Grouping:
    """Check a ``--group-by`` value; raises ValueError before any work starts."""
    if group_by in ("folder", "none"):
        return _Grouping(group_by)
    if group_by.startswith("regex:"):
        try:
            pattern = re.compile(group_by[len("regex:") :])
        except re.error as error:
            raise ValueError(f"group_by {group_by!r}: not a valid regex ({error})") from None
        if pattern.groups < 1:
            raise ValueError(f"group_by {group_by!r}: the regex needs a capture group")
        return _Grouping("regex", pattern=pattern)
    if group_by.startswith("time:"):
        try:
            minutes = float(group_by[len("time:") :])
        except ValueError:
            minutes = math.nan
        if not minutes > 0 or math.isinf(minutes):
            raise ValueError(f"group_by {group_by!r}: expected time:MINUTES with MINUTES > 0")
        return _Grouping("time", minutes=minutes)
    raise ValueError(
        f"group_by must be folder, none, regex:PATTERN or time:MINUTES, got {group_by!r}"
    )


def split_fractions(val_fraction: float, test_fraction: float = 0.0) -> dict[str, float]:
    """Target fraction per split (only splits with a positive fraction, train first)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"test_fraction must be >= 0 and val + test < 1, got {val_fraction} + {test_fraction}"
        )
    fractions = {"train": 1 - val_fraction - test_fraction, "val": val_fraction}
    if test_fraction > 0:
        fractions["test"] = test_fraction
    return fractions


# -- grouping --------------------------------------------------------------------------


def _folder(key: str) -> str:
    return key.rsplit("/", 1)[0] if "/" in key else "."


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _time_group(key: str, when: object, minutes: float) -> str | None:
    moment = _parse_time(when)
    if moment is None:
        return None
    seconds = (moment - datetime(1970, 1, 1)).total_seconds()
    window = math.floor(seconds / (minutes * 60))
    start = datetime(1970, 1, 1) + pd.Timedelta(seconds=window * minutes * 60)
    return f"time:{_folder(key)}@{start.isoformat()}"


def _base_groups(ok: pd.DataFrame, grouping: _Grouping) -> list[str]:
    keys = ok["key"].tolist()
    if grouping.mode == "none":
        return [f"key:{key}" for key in keys]
    if grouping.mode == "folder":
        return [f"folder:{_folder(key)}" for key in keys]
    if grouping.mode == "regex":
        assert grouping.pattern is not None
        matches = [grouping.pattern.search(key) for key in keys]
        groups = [
            f"regex:{m.group(1)}" if m and m.group(1) is not None else f"key:{key}"
            for key, m in zip(keys, matches, strict=True)
        ]
        unmatched = sum(g.startswith("key:") for g in groups)
        if unmatched:
            log.warning(
                "%d of %d keys do not match %s; each is its own group",
                unmatched,
                len(keys),
                grouping.pattern.pattern,
            )
        return groups
    assert grouping.minutes is not None
    times = ok["exif_datetime"].tolist() if "exif_datetime" in ok else [None] * len(keys)
    groups = [_time_group(k, t, grouping.minutes) for k, t in zip(keys, times, strict=True)]
    untimed = sum(g is None for g in groups)
    if untimed:
        log.warning("%d of %d images have no exif_datetime; grouped by folder", untimed, len(keys))
    return [g or f"folder:{_folder(k)}" for g, k in zip(groups, keys, strict=True)]


def _valid_hashes(ok: pd.DataFrame) -> tuple[list[int], list[int]]:
    """(row positions, hash values) of rows whose ``phash`` is a 16-hex-digit string."""
    if "phash" not in ok:
        return [], []
    positions, values = [], []
    for position, value in enumerate(ok["phash"].tolist()):
        if isinstance(value, str) and len(value) == 16:
            try:
                values.append(parse_hash(value))
            except ValueError:
                continue
            positions.append(position)
    return positions, values


def _merge_near_duplicates(
    ok: pd.DataFrame, base: list[str], near_dup_distance: int | None
) -> list[str]:
    """Join base groups and near-duplicate clusters; a group is named by its smallest id."""
    pairs: list[tuple[int, int]] = []
    first_of: dict[str, int] = {}
    for position, group in enumerate(base):
        pairs.append((first_of.setdefault(group, position), position))
    if near_dup_distance is not None:
        positions, hashes = _valid_hashes(ok)
        near = near_duplicate_pairs(hashes, near_dup_distance)
        pairs.extend((positions[i], positions[j]) for i, j in near)
    components = connected_groups(len(base), pairs)
    names: dict[int, str] = {}
    for component, group in zip(components, base, strict=True):
        names[component] = min(names.get(component, group), group)
    return [names[component] for component in components]


def _groups(ok: pd.DataFrame, grouping: _Grouping, near_dup_distance: int | None) -> list[str]:
    groups = _merge_near_duplicates(ok, _base_groups(ok, grouping), near_dup_distance)
    if len(ok) < 2 or len(set(groups)) > 1:
        return groups
    log.warning(
        "all %d images form one group (group_by=%s); regrouping by near-duplicate clusters "
        "alone so that val is not empty",
        len(ok),
        grouping.mode,
    )
    groups = _merge_near_duplicates(ok, _base_groups(ok, _Grouping("none")), near_dup_distance)
    if len(set(groups)) > 1:
        return groups
    log.warning(
        "all %d images are near-duplicates of each other; splitting them one image per "
        "group, so train and val share near-copies",
        len(ok),
    )
    return _base_groups(ok, _Grouping("none"))


# -- statistics and assignment ---------------------------------------------------------


def _image_stats(ok: pd.DataFrame, boxes: pd.DataFrame) -> pd.DataFrame:
    """Per ok image (index key): 1 image, background 0/1, instances per class."""
    keys = ok["key"]
    mine = boxes[boxes["image_key"].isin(set(keys))]
    counts = mine.pivot_table(index="image_key", columns="class_name", aggfunc="size", fill_value=0)
    counts = counts.reindex(keys, fill_value=0)
    counts.columns = [f"class:{name}" for name in counts.columns]
    stats = pd.DataFrame(index=pd.Index(keys, name="key"))
    stats[_IMAGES] = 1
    stats[_BACKGROUND] = (counts.sum(axis=1) == 0).astype(int).to_numpy()
    return pd.concat([stats, counts.set_axis(stats.index)], axis=1).astype(float)


def _seeded_hash(seed: int, *parts: str) -> int:
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _greedy(
    group_stats: pd.DataFrame,
    free: list[str],
    fixed_counts: dict[str, pd.Series],
    fractions: Mapping[str, float],
    seed: int,
) -> dict[str, str]:
    """Largest free group first, to the split where the cost rises least.

    Cost: ``sum over splits s and quantities q of share(s, q) ** 2 / fraction(s)``, with
    ``share = count / total``. For fixed totals it is smallest exactly when every share
    equals its split's fraction, so the greedy fills splits at the same relative pace (a
    small val gets big and small groups alike) and avoids a split past its target.
    """
    values = group_stats.to_numpy(dtype=float)
    row_of = {group: row for row, group in enumerate(group_stats.index)}
    totals = values.sum(axis=0)
    splits = list(fractions)
    scale = np.where(totals > 0, totals, np.inf) ** 2
    counts = {s: fixed_counts[s].to_numpy(dtype=float).copy() for s in splits}
    images = values[:, group_stats.columns.get_loc(_IMAGES)]
    instances = values[:, [c.startswith("class:") for c in group_stats.columns]].sum(axis=1)
    order = sorted(
        free,
        key=lambda g: (-images[row_of[g]], -instances[row_of[g]], _seeded_hash(seed, g)),
    )
    assigned: dict[str, str] = {}
    for group in order:
        add = values[row_of[group]]

        def cost(split: str, add: np.ndarray = add, group: str = group) -> tuple[float, int]:
            count = counts[split]
            increase = ((count + add) ** 2 - count**2) / scale / fractions[split]
            return float(increase.sum()), _seeded_hash(seed, group, split)

        best = min(splits, key=cost)
        assigned[group] = best
        counts[best] += add
    return assigned


def _fill_empty_splits(
    assigned: dict[str, str],
    group_stats: pd.DataFrame,
    fixed_counts: dict[str, pd.Series],
    fractions: Mapping[str, float],
    seed: int,
) -> dict[str, str]:
    """Give every split with a positive fraction at least one group, when there are enough."""
    result = dict(assigned)
    for split in fractions:
        filled = fixed_counts[split][_IMAGES] > 0 or split in result.values()
        if filled:
            continue
        per_split = pd.Series(result).value_counts()
        donors = [s for s in per_split.index if per_split[s] > 1]
        if not donors:
            log.warning("split %s stays empty: not enough unfrozen groups to fill it", split)
            continue
        donor = max(donors, key=lambda s: (per_split[s], s == "train"))
        candidates = [g for g, s in result.items() if s == donor]
        smallest = min(
            candidates, key=lambda g: (group_stats.loc[g, _IMAGES], _seeded_hash(seed, g))
        )
        log.warning("split %s got no group; moving group %s from %s", split, smallest, donor)
        result[smallest] = split
    return result


def _frozen_image_splits(
    keys: list[str], groups: list[str], frozen: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(split per frozen key, split per group that frozen keys decide)."""
    by_key = {key: frozen[key] for key in keys if key in frozen}
    votes: dict[str, list[str]] = {}
    for key, group in zip(keys, groups, strict=True):
        if key in by_key:
            votes.setdefault(group, []).append(by_key[key])
    by_group: dict[str, str] = {}
    for group, splits in votes.items():
        counts = pd.Series(splits).value_counts()
        winners = sorted(counts.index[counts == counts.max()], key=_split_rank)
        by_group[group] = winners[0]
        if len(counts) > 1:
            log.warning(
                "frozen splits put members of group %s in %s; each frozen image keeps its "
                "split, new members go to %s (see the leakage audit)",
                group,
                sorted(counts.index, key=_split_rank),
                winners[0],
            )
    return by_key, by_group


def _split_rank(split: str) -> int:
    return SPLITS.index(split) if split in SPLITS else len(SPLITS)


def _assign(
    keys: list[str],
    groups: list[str],
    stats: pd.DataFrame,
    *,
    fractions: Mapping[str, float],
    seed: int,
    frozen: Mapping[str, str],
) -> list[str]:
    """Split per key: frozen keys and their groups first, then the free groups, greedily."""
    frozen_keys, frozen_groups = _frozen_image_splits(keys, groups, frozen)
    fixed_split = [
        frozen_keys.get(k, frozen_groups.get(g)) for k, g in zip(keys, groups, strict=True)
    ]
    fixed = pd.Series(fixed_split, index=stats.index, dtype=object)
    fixed_counts = {split: stats[fixed == split].sum() for split in fractions}
    group_stats = stats.groupby(pd.Series(groups, index=stats.index, name="group")).sum()
    free = sorted(set(groups) - set(frozen_groups))
    assigned = _greedy(group_stats, free, fixed_counts, fractions, seed)
    assigned = _fill_empty_splits(assigned, group_stats, fixed_counts, fractions, seed)
    return [f if f is not None else assigned[g] for f, g in zip(fixed_split, groups, strict=True)]


# -- public ----------------------------------------------------------------------------


def assign_splits(
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 42,
    group_by: str = "folder",
    near_dup_distance: int | None = 6,
    frozen: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Return ``images`` with ``group`` and ``split`` (None for rows not ``ok``).

    See the module docstring for grouping, the balance cost, the tolerance and exactly what
    "stable" means. ``frozen`` maps source keys to splits (:func:`read_frozen_splits`).
    """
    fractions = split_fractions(val_fraction, test_fraction)
    grouping = parse_group_by(group_by)
    if near_dup_distance is not None and not 0 <= near_dup_distance < 64:
        raise ValueError(f"near_dup_distance must be in [0, 63] or None, got {near_dup_distance}")
    ok = images[images["status"] == STATUS_OK].sort_values("key", kind="stable")
    groups = _groups(ok, grouping, near_dup_distance)
    keys = ok["key"].tolist()
    final = _assign(
        keys, groups, _image_stats(ok, boxes), fractions=fractions, seed=seed, frozen=frozen or {}
    )
    group_of = dict(zip(keys, groups, strict=True))
    split_of = dict(zip(keys, final, strict=True))
    log.info(
        "split %d images in %d groups: %s",
        len(keys),
        len(set(groups)),
        pd.Series(final, dtype=object).value_counts().to_dict(),
    )
    return images.assign(
        group=pd.Series([group_of.get(k) for k in images["key"]], index=images.index, dtype=object),
        split=pd.Series([split_of.get(k) for k in images["key"]], index=images.index, dtype=object),
    )


def read_frozen_splits(dataset_info: Mapping[str, Any]) -> dict[str, str]:
    """Source key -> split from a previous dataset_info.json; tiles map to their frame."""
    frozen: dict[str, str] = {}
    for position, entry in enumerate(dataset_info.get("images", [])):
        tile_of = entry.get("tile_of")
        key = tile_of["source_key"] if tile_of else entry.get("source_key")
        split = entry.get("split")
        if not key or split not in SPLITS:
            raise ValueError(
                f"dataset_info.json images[{position}]: needs a source_key and a split in "
                f"{SPLITS}, got {key!r} / {split!r}"
            )
        if frozen.setdefault(key, split) != split:
            raise ValueError(
                f"dataset_info.json images[{position}]: {key!r} is in both "
                f"{frozen[key]} and {split}"
            )
    return frozen


def load_frozen_splits(uri: str, store: Store) -> dict[str, str]:
    """:func:`read_frozen_splits` of a dataset (its folder or its dataset_info.json URI)."""
    info_uri = uri if uri.rstrip("/").endswith(DATASET_INFO) else join(uri, DATASET_INFO)
    if not store.exists(info_uri):
        raise ValueError(f"--freeze-from {uri}: no {DATASET_INFO} at {info_uri}")
    try:
        info = json.loads(store.read_text(info_uri))
    except json.JSONDecodeError as error:
        raise ValueError(f"{info_uri}: not valid JSON ({error})") from None
    return read_frozen_splits(info)


def leakage_audit(images: pd.DataFrame, *, near_dup_distance: int) -> pd.DataFrame:
    """Near-duplicate pairs (within ``near_dup_distance`` bits) whose images differ in split."""
    columns = ["key_a", "key_b", "split_a", "split_b", "group_a", "group_b", "distance"]
    placed = images[(images["status"] == STATUS_OK) & images["split"].notna()]
    placed = placed.sort_values("key", kind="stable")
    positions, hashes = _valid_hashes(placed)
    keys, splits, groups = (placed[c].tolist() for c in ("key", "split", "group"))
    rows = []
    for i, j in near_duplicate_pairs(hashes, near_dup_distance):
        a, b = positions[i], positions[j]
        if splits[a] != splits[b]:
            distance = (hashes[i] ^ hashes[j]).bit_count()
            rows.append([keys[a], keys[b], splits[a], splits[b], groups[a], groups[b], distance])
    return pd.DataFrame(rows, columns=columns)


def split_summary(images: pd.DataFrame, boxes: pd.DataFrame) -> pd.DataFrame:
    """Per split, side by side: images, background images, instances per class, and shares.

    Rows: ``quantity`` = ``images``, ``background images``, then ``class:<name>``; columns:
    one count per split present, ``total``, and ``share:<split>`` (count / total).
    """
    placed = images[(images["status"] == STATUS_OK) & images["split"].notna()]
    stats = _image_stats(placed, boxes)
    splits = sorted(placed["split"].unique(), key=_split_rank)
    by_split = stats.groupby(placed.set_index("key")["split"].reindex(stats.index)).sum()
    counts = by_split.reindex(splits).T.fillna(0).astype(int)
    counts = counts.rename(index={_IMAGES: "images", _BACKGROUND: "background images"})
    counts["total"] = counts.sum(axis=1)
    for split in splits:
        counts[f"share:{split}"] = counts[split] / counts["total"].where(counts["total"] > 0)
    counts.index.name = "quantity"
    counts.columns.name = None
    return counts.reset_index()


def balance_violations(
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    fractions: Mapping[str, float],
    tolerance: float = SPLIT_TOLERANCE,
) -> pd.DataFrame:
    """Quantities whose share in a split is outside the stated tolerance (see module doc).

    The allowed deviation of a quantity is ``max(tolerance, largest group's share of it)``.
    """
    placed = images[(images["status"] == STATUS_OK) & images["split"].notna()]
    stats = _image_stats(placed, boxes)
    group_stats = stats.groupby(placed.set_index("key")["group"].reindex(stats.index)).sum()
    totals = stats.sum()
    largest_share = group_stats.max() / totals.where(totals > 0)
    summary = split_summary(images, boxes).set_index("quantity")
    names = {_IMAGES: "images", _BACKGROUND: "background images"}
    rows = []
    for column in stats.columns:
        quantity = names.get(column, column)
        allowed = max(tolerance, float(largest_share[column]))
        for split, fraction in fractions.items():
            column_name = f"share:{split}"
            share = summary.loc[quantity, column_name] if column_name in summary else 0.0
            if abs(share - fraction) > allowed:
                rows.append([quantity, split, share, fraction, allowed])
    return pd.DataFrame(rows, columns=["quantity", "split", "share", "target", "allowed"])


split_task = task(name="assign-splits", cache_policy=NONE)(assign_splits)
frozen_splits_task = io_task(load_frozen_splits, name="load-frozen-splits", retries=2)
