"""What a person reads at the end of a run: counts, problems, where things are."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from tasks.tables import STATUS_QUARANTINED, STATUS_UNLABELED, Problem

PROBLEMS_SHOWN = 10


@dataclass
class PrepareSummary:
    """The outcome of one ``prepare`` run; ``dataset_uri`` is None when nothing was published."""

    name: str
    dataset_uri: str | None
    images_found: int
    images_per_split: dict[str, int]
    quarantined: int
    unlabeled: int
    boxes_per_split: dict[str, int]
    problems: int
    problem_counts: dict[str, int]  # per rule
    problem_examples: list[str]  # the first of each rule
    report_uri: str
    gate_success: bool
    gate_failures: list[str]
    mlflow_run_id: str | None
    tracking_uri: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines": self.lines()}

    def headline(self) -> str:
        if self.gate_success:
            return f"dataset {self.name} published: {self.dataset_uri}"
        return f"expectations gate failed ({len(self.gate_failures)} rules); nothing published"

    def lines(self) -> list[str]:
        """The summary for a terminal; the last line is the dataset URI when published."""
        splits = ", ".join(f"{n} {s}" for s, n in self.images_per_split.items())
        boxes = ", ".join(f"{n} {s}" for s, n in self.boxes_per_split.items())
        out = [
            f"dataset {self.name}: {'published' if self.dataset_uri else 'NOT published'}",
            f"  images: {self.images_found} found; published {splits or 'none'}; "
            f"{self.quarantined} quarantined; {self.unlabeled} unlabeled",
            f"  boxes:  {boxes or 'none'}",
            f"  problems: {self.problems} (every one is listed in the report and "
            "dataset_info.json); by rule: "
            + ", ".join(f"{rule} {n}" for rule, n in self.problem_counts.items()),
            *[f"    e.g. {p}" for p in self.problem_examples],
        ]
        if not self.gate_success:
            out += ["  expectations gate FAILED:", *[f"    - {f}" for f in self.gate_failures]]
        out += [
            f"  report: {self.report_uri}",
            f"  mlflow: run {self.mlflow_run_id} in {self.tracking_uri}",
        ]
        out += [f"  note: {n}" for n in self.notes]
        if self.dataset_uri:
            out.append(self.dataset_uri)
        return out

    def markdown(self) -> str:
        rows = [
            ("dataset", f"`{self.dataset_uri}`" if self.dataset_uri else "not published"),
            ("images found", self.images_found),
            *[(f"images {s}", n) for s, n in self.images_per_split.items()],
            *[(f"boxes {s}", n) for s, n in self.boxes_per_split.items()],
            ("quarantined", self.quarantined),
            ("unlabeled", self.unlabeled),
            ("problems", self.problems),
            ("expectations gate", "passed" if self.gate_success else "FAILED"),
            ("report", f"`{self.report_uri}`"),
            ("MLflow run", f"`{self.mlflow_run_id}` in `{self.tracking_uri}`"),
        ]
        table = "\n".join(f"| {k} | {v} |" for k, v in rows)
        failures = "".join(f"\n- {f}" for f in self.gate_failures)
        return f"# prepare: {self.name}\n\n| | |\n|---|---|\n{table}\n{failures}\n"


def _first_of_each_rule(problems: list[Problem]) -> list[Problem]:
    first: dict[str, Problem] = {}
    for problem in problems:
        first.setdefault(problem.rule, problem)
    return list(first.values())


def prepare_summary(
    name: str,
    dataset_uri: str,
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    problems: list[Problem],
    *,
    report_uri: str,
    gate_success: bool,
    gate_failures: list[str],
    mlflow_run_id: str | None,
    tracking_uri: str,
    notes: list[str] | None = None,
) -> PrepareSummary:
    """Count what happened; ``dataset_uri`` is kept only when the gate passed."""
    published = images[images["split"].notna()] if "split" in images else images.iloc[0:0]
    per_split = published["split"].value_counts().sort_index().to_dict()
    split_of = dict(zip(published["key"], published["split"], strict=True))
    box_split = boxes["image_key"].map(split_of) if len(boxes) else pd.Series(dtype=object)
    return PrepareSummary(
        name=name,
        dataset_uri=dataset_uri if gate_success else None,
        images_found=len(images),
        images_per_split={str(k): int(v) for k, v in per_split.items()},
        quarantined=int((images["status"] == STATUS_QUARANTINED).sum()),
        unlabeled=int((images["status"] == STATUS_UNLABELED).sum()),
        boxes_per_split={str(k): int(v) for k, v in box_split.value_counts().sort_index().items()},
        problems=len(problems),
        problem_counts=dict(Counter(p.rule for p in problems).most_common()),
        problem_examples=[str(p) for p in _first_of_each_rule(problems)][:PROBLEMS_SHOWN],
        report_uri=report_uri,
        gate_success=gate_success,
        gate_failures=list(gate_failures),
        mlflow_run_id=mlflow_run_id,
        tracking_uri=tracking_uri,
        notes=list(notes or []),
    )
