"""Class names to stable class ids: ``--classes`` order, ``--class-map``, unknown classes.

``class_map`` renames and merges first (``van=car``), then ids follow ``classes`` (or the
sorted names found), so the same classes give the same ids in every run and dataset.
"""

from __future__ import annotations

import logging
from collections import Counter

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from tasks.tables import BOX_COLUMNS, Problem

log = logging.getLogger(__name__)


class UnknownClassesError(ValueError):
    """Boxes carry classes outside ``classes``; lists them with their counts."""

    def __init__(self, unknown: dict[str, int], classes: list[str]) -> None:
        self.unknown = unknown
        listed = ", ".join(f"{name} ({n} boxes)" for name, n in sorted(unknown.items()))
        super().__init__(
            f"classes not in {classes}: {listed}; add them to the classes, map them with "
            "a class map (old=new) or drop them with drop-unknown-classes"
        )


def parse_class_map(text: str) -> dict[str, str]:
    """``"van=car, bus=truck"`` -> ``{"van": "car", "bus": "truck"}``; raises ValueError."""
    mapping: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        old, sep, new = (s.strip() for s in item.partition("="))
        if not sep or not old or not new:
            raise ValueError(f"class map entry must be old=new, got {item!r}")
        if old in mapping and mapping[old] != new:
            raise ValueError(f"class map sends {old!r} to both {mapping[old]!r} and {new!r}")
        mapping[old] = new
    chained = sorted(set(mapping) & {v for k, v in mapping.items() if k != v})
    if chained:
        raise ValueError(
            f"class map entries must not chain: {chained} are both renamed and targets"
        )
    return mapping


def check_classes(classes: list[str]) -> list[str]:
    names = [c.strip() for c in classes]
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if any(not n for n in names) or duplicates:
        raise ValueError(f"classes must be non-empty and unique, got {classes}")
    return names


def assign_class_ids(
    boxes: pd.DataFrame,
    *,
    classes: list[str] | None,
    class_map: dict[str, str] | None,
    drop_unknown: bool,
) -> tuple[pd.DataFrame, list[str], list[Problem]]:
    """Boxes with ``class_id`` (in ``BOX_COLUMNS`` order, extra columns after), the class
    names by id, and a problem per dropped box. Raises :class:`UnknownClassesError` for
    classes outside ``classes`` unless ``drop_unknown``."""
    mapped = boxes.assign(class_name=boxes["class_name"].map(lambda n: (class_map or {}).get(n, n)))
    names = check_classes(classes) if classes is not None else sorted(set(mapped["class_name"]))
    ids = {name: i for i, name in enumerate(names)}
    unknown = ~mapped["class_name"].isin(ids)
    problems: list[Problem] = []
    if unknown.any():
        counts = mapped.loc[unknown, "class_name"].value_counts().to_dict()
        if not drop_unknown:
            raise UnknownClassesError({str(k): int(v) for k, v in counts.items()}, names)
        problems = [
            Problem(
                where,
                "class-unknown",
                f"class {name!r} is not in {names}; box dropped",
                image_key=key,
                kind="box",
            )
            for where, name, key in mapped.loc[
                unknown, ["source_line", "class_name", "image_key"]
            ].itertuples(index=False)
        ]
    kept = mapped[~unknown]
    kept = kept.assign(class_id=kept["class_name"].map(ids).astype(int))
    extra = [c for c in kept.columns if c not in BOX_COLUMNS]
    log.info("class ids %s; %d boxes dropped as unknown", ids, len(problems))
    return kept[BOX_COLUMNS + extra].reset_index(drop=True), names, problems


assign_class_ids_task = task(name="assign-class-ids", cache_policy=NONE)(assign_class_ids)
