"""The producer's gate (``expectations.gate.run_gate``) on a plan, before publishing."""

from __future__ import annotations

import json
from pathlib import Path

from expectations.gate import DATA_DOCS_DIR, gate_task, run_gate
from tasks.layout import PlannedImage
from tests.expectations.factory import NAMES, label_text


def _planned(index: int, split: str, label: str | None = None) -> PlannedImage:
    return PlannedImage(
        split=split, file_name=f"f{index}.jpg", source_key=f"raw/{index}.jpg",
        source_uri=f"/raw/{index}.jpg", width=640, height=480, format="JPEG", orientation=1,
        sha256=None, label_text=label_text(index) if label is None else label,
    )  # fmt: skip


def test_gate_passes_a_good_plan_and_writes_data_docs(tmp_path: Path) -> None:
    plan = [_planned(i, "train" if i < 6 else "val") for i in range(9)]

    report = run_gate(plan, NAMES, min_train=6, min_val=3, docs_dir=tmp_path)

    assert report.success, report.failures
    info = json.loads(json.dumps(report.as_dict()))
    assert info["statistics"]["splits"]["train"]["images"] == 6
    assert (tmp_path / DATA_DOCS_DIR / "index.html").is_file()
    assert gate_task.fn is run_gate


def test_gate_stops_a_plan_below_the_minimums() -> None:
    plan = [_planned(i, "train") for i in range(4)] + [_planned(9, "val", "0 0.5 0.5 0 0.1\n")]

    report = run_gate(plan, NAMES, min_train=5, min_val=1)

    assert not report.success
    assert report.failures[0].startswith("min-train-images: the train split needs at least 5")
    assert any(
        f.startswith("label-box-positive") and "val/labels/f9.txt:1" in f for f in report.failures
    )
