"""The producer's gate on a plan: the lead's prepare calls it before publishing."""

from __future__ import annotations

import json

from expectations.gate import gate, gate_task
from tasks.layout import PlannedImage
from tests.expectations.factory import NAMES, label_text


def _planned(index: int, split: str, label: str | None = None) -> PlannedImage:
    return PlannedImage(
        split=split, file_name=f"f{index}.jpg", source_key=f"raw/{index}.jpg",
        source_uri=f"/raw/{index}.jpg", width=640, height=480, format="JPEG", orientation=1,
        sha256=None, label_text=label_text(index) if label is None else label,
    )  # fmt: skip


def test_gate_passes_a_good_plan_and_reports_for_dataset_info() -> None:
    plan = [_planned(i, "train" if i < 6 else "val") for i in range(9)]

    report = gate(plan, NAMES, min_train=6, min_val=3)

    assert report.success, report.failures
    assert report.headline() == "plan: valid (1 warning(s))"
    info = json.loads(json.dumps(report.as_info()))
    assert info["statistics"]["splits"]["train"]["images"] == 6
    assert gate_task.fn is gate


def test_gate_stops_a_plan_below_the_minimums_with_a_headline() -> None:
    plan = [_planned(i, "train") for i in range(4)] + [_planned(9, "val", "0 0.5 0.5 0 0.1\n")]

    report = gate(plan, NAMES, min_train=5, min_val=1)

    assert not report.success
    assert report.headline().startswith("plan: 2 rule(s) failed, first: min-train-images")
    assert any(
        f.startswith("label-box-positive") and "val/labels/f9.txt:1" in f for f in report.failures
    )
