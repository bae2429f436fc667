"""The producer's gate: the same suites as ``flows.validate``, run on the plan before publish.

The verdict depends only on the plan, the class names and the thresholds, so the Prefect
task is cached on exactly those: a rerun on unchanged input does not run Great
Expectations again. The Data Docs pages travel with the cached verdict as bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy

from expectations.frames import frames_from_plan
from expectations.runner import validate_frames, write_data_docs
from tasks.layout import PlannedImage
from tasks.storage import Store, join

log = logging.getLogger(__name__)

DATA_DOCS_DIR = "data_docs"


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict: ``as_dict()`` is dataset_info.json's ``expectations``."""

    expectations: dict[str, Any]  # ValidationReport.as_dict()
    data_docs: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def success(self) -> bool:
        return bool(self.expectations["success"])

    @property
    def failures(self) -> list[str]:
        return list(self.expectations["failures"])

    @property
    def statistics(self) -> dict[str, Any]:
        return dict(self.expectations["statistics"])

    def as_dict(self) -> dict[str, Any]:
        return self.expectations

    def write_data_docs(self, docs_dir: Path, docs_uri: str | None, store: Store) -> None:
        """The GX Data Docs pages into ``docs_dir/data_docs`` (and below ``docs_uri``)."""
        for relpath, data in self.data_docs.items():
            path = docs_dir / DATA_DOCS_DIR / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if docs_uri is not None and docs_uri != str(docs_dir):
                store.write_bytes(join(docs_uri, DATA_DOCS_DIR, *relpath.split("/")), data)


def run_gate(
    plan: list[PlannedImage], names: list[str], *, min_train: int, min_val: int
) -> GateResult:
    """Validate the planned dataset with the suites; keep the Data Docs pages as bytes."""
    report = validate_frames(frames_from_plan(plan, names), min_train=min_train, min_val=min_val)
    with tempfile.TemporaryDirectory(prefix="droneprep-docs-") as tmp:
        index = write_data_docs(report, Path(tmp))
        docs = {
            path.relative_to(index.parent).as_posix(): path.read_bytes()
            for path in sorted(index.parent.rglob("*"))
            if path.is_file()
        }
    return GateResult(report.as_dict(), docs)


def _plan_cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    """The plan, the names and the thresholds: everything the verdict depends on."""
    content = {
        "plan": [asdict(item) for item in parameters["plan"]],
        "names": parameters["names"],
        "min_train": parameters["min_train"],
        "min_val": parameters["min_val"],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


gate_task = task(
    name="expectations-gate",
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=_plan_cache_key),
)(run_gate)
