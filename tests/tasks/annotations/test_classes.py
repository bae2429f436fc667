"""assign_class_ids and parse_class_map: order, renames and merges, unknown classes."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.annotations import UnknownClassesError, assign_class_ids, parse_class_map
from tasks.tables import BOX_COLUMNS


def _boxes(*names: str) -> pd.DataFrame:
    rows = [
        {
            "image_key": f"{i}.jpg",
            "class_name": n,
            "x_center": 0.5,
            "y_center": 0.5,
            "width": 0.1,
            "height": 0.1,
            "source_format": "visdrone",
            "source_uri": "f.txt",
            "source_line": f"f.txt:{i}",
            "confidence": None,
            "human_annotated": None,
            "difficult": None,
        }
        for i, n in enumerate(names, start=1)
    ]
    return pd.DataFrame(rows, columns=[c for c in BOX_COLUMNS if c != "class_id"] + ["difficult"])


def test_default_order_is_sorted_names_and_ids_are_stable():
    boxes, names, problems = assign_class_ids(
        _boxes("van", "car", "bus", "car"), classes=None, class_map=None, drop_unknown=False
    )
    assert names == ["bus", "car", "van"]
    assert boxes["class_id"].tolist() == [2, 1, 0, 1]
    assert list(boxes.columns[: len(BOX_COLUMNS)]) == BOX_COLUMNS and "difficult" in boxes.columns
    again, _, _ = assign_class_ids(
        _boxes("bus", "van", "car", "car"), classes=None, class_map=None, drop_unknown=False
    )
    assert dict(zip(again["class_name"], again["class_id"], strict=True)) == {
        "bus": 0,
        "car": 1,
        "van": 2,
    }
    assert problems == []


def test_classes_fix_order_and_class_map_merges():
    mapping = parse_class_map("van=car, truck = lorry")
    boxes, names, _ = assign_class_ids(
        _boxes("van", "car", "truck"),
        classes=["lorry", "car"],
        class_map=mapping,
        drop_unknown=False,
    )
    assert names == ["lorry", "car"]
    assert boxes[["class_name", "class_id"]].to_numpy().tolist() == [
        ["car", 1],
        ["car", 1],
        ["lorry", 0],
    ]


def test_unknown_classes_raise_listing_them():
    with pytest.raises(UnknownClassesError, match=r"bus \(2 boxes\), van \(1 boxes\)") as error:
        assign_class_ids(
            _boxes("bus", "van", "car", "bus"), classes=["car"], class_map=None, drop_unknown=False
        )
    assert error.value.unknown == {"bus": 2, "van": 1}


def test_unknown_classes_dropped_as_problems():
    boxes, names, problems = assign_class_ids(
        _boxes("bus", "car"), classes=["car"], class_map=None, drop_unknown=True
    )
    assert boxes["class_name"].tolist() == ["car"] and names == ["car"]
    assert [(p.rule, p.where, p.image_key, p.kind) for p in problems] == [
        ("class-unknown", "f.txt:1", "1.jpg", "box")
    ]


def test_empty_boxes():
    boxes, names, problems = assign_class_ids(
        _boxes(), classes=["car"], class_map=None, drop_unknown=False
    )
    assert boxes.empty and names == ["car"] and problems == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("van", "must be old=new"),
        ("van=", "must be old=new"),
        ("a=b,a=c", "both"),
        ("a=b,b=c", "must not chain"),
    ],
)
def test_parse_class_map_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_class_map(text)


@pytest.mark.parametrize("classes", [["car", "car"], ["car", " "]])
def test_bad_classes_raise(classes):
    with pytest.raises(ValueError, match="non-empty and unique"):
        assign_class_ids(_boxes("car"), classes=classes, class_map=None, drop_unknown=False)


def test_parse_class_map_accepts_empty_and_identity():
    assert parse_class_map("") == {}
    assert parse_class_map("car=car") == {"car": "car"}
