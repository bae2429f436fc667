"""The producer's gate: every suite on the plan in memory, before anything is published."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from expectations.frames import frames_from_plan
from expectations.runner import ValidationReport, validate_frames
from tasks.layout import PlannedImage


def gate(
    plan: list[PlannedImage],
    names: list[str],
    *,
    min_train: int = 100,
    min_val: int = 50,
    info: dict[str, Any] | None = None,
    **limits: Any,
) -> ValidationReport:
    """The report on the dataset ``plan`` would publish; ``success`` False means stop.

    ``limits`` are the other fields of ``expectations.Thresholds`` (``min_image_side``,
    ``imgsz``, the warnings' thresholds). The integrity suites need the published file
    list and run on the consumer's side (``flows.validate``) only.
    """
    frames = frames_from_plan(plan, names, info=info, imgsz=limits.get("imgsz", 640))
    return validate_frames(frames, min_train=min_train, min_val=min_val, **limits)


gate_task = task(name="expectations-gate", cache_policy=NONE)(gate)
