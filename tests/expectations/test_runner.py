"""The runner: one report from every suite, warnings that do not fail, Data Docs, the gate."""

from __future__ import annotations

import json

import pytest

from expectations import (
    DatasetInvalid,
    Thresholds,
    frames_from_dataset,
    require_valid,
    validate_frames,
    write_data_docs,
)
from tests.expectations.factory import failed_rules, finish_dataset, warned_rules


def test_report_is_json_and_data_docs_render_the_validation(dataset, store, tmp_path) -> None:
    (dataset / "train/labels/img_0000.txt").write_text("0 1.2 0.5 0.1 0.1\n")
    finish_dataset(store, str(dataset))
    report = validate_frames(frames_from_dataset(str(dataset), store), min_train=5, min_val=3)

    text = json.dumps({"report": report.as_dict(), "results": report.results}, allow_nan=False)
    index = write_data_docs(report, tmp_path / "docs")

    assert "label-x-center-range" in text
    assert index.is_file()
    pages = list((tmp_path / "docs" / "validations" / "labels").rglob("*.html"))
    assert pages
    page = pages[0].read_text()
    assert "x_center" in page
    assert "Failed" in page or "failed" in page


def test_require_valid_raises_with_every_failure(dataset, store) -> None:
    (dataset / "train/labels/img_0000.txt").write_text("7 0.5 0.5 0.1 0.1\n")
    report = validate_frames(frames_from_dataset(str(dataset), store), min_train=5, min_val=3)

    with pytest.raises(DatasetInvalid) as raised:
        require_valid(report)

    assert raised.value.report is report
    assert "label-class-id" in str(raised.value)
    assert "layout-dataset-info" in str(raised.value)


def test_warnings_are_reported_without_failing(dataset, store) -> None:
    # a tiny box, a background-heavy val split, a rare class, a duplicate group across splits
    (dataset / "train/labels/img_0000.txt").write_text("0 0.5 0.5 0.001 0.002\n")
    for stem in ("img_0006", "img_0007"):
        (dataset / f"val/labels/{stem}.txt").write_text("")
    groups = [
        {"file": "train/images/img_0001.jpg", "group": "g1"},
        {"file": "val/images/img_0006.jpg", "group": "g1"},
    ]
    finish_dataset(store, str(dataset), images=groups)

    report = validate_frames(
        frames_from_dataset(str(dataset), store), min_train=5, min_val=3, max_imbalance_ratio=1.1
    )

    assert report.success, report.failures
    rules = warned_rules(report)
    for rule in (
        "warn-tiny-box",
        "warn-background-share",
        "warn-rare-class",
        "warn-cross-split-duplicates",
        "warn-imbalance",
    ):
        assert rule in rules
    cross = next(w for w in report.warnings if w.startswith("warn-cross-split"))
    assert "group g1" in cross


def test_thresholds_from_dataset_info_only_raise() -> None:
    limits = Thresholds(min_train=100, min_val=50)
    info = {"parameters": {"min_train": 10, "min_val": 80}}

    raised = limits.for_dataset(info)

    assert (raised.min_train, raised.min_val) == (100, 80)
    assert limits.for_dataset({"parameters": "junk"}) == limits
    assert limits.for_dataset(None) == limits


def test_empty_dataset_folder_is_rejected_not_crashed(tmp_path, store) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "data.yaml").write_text("nc: 0\nnames: []\n")

    report = validate_frames(frames_from_dataset(str(tmp_path / "ds"), store))

    assert not report.success
    assert {"layout-train-images", "min-train-images", "yaml-names-count"} <= set(
        failed_rules(report)
    )
