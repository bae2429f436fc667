"""The producer's gate: the same suites as ``flows.validate``, run on the plan before publish."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from expectations.frames import frames_from_plan
from expectations.runner import ValidationReport, validate_frames, write_data_docs
from tasks.layout import PlannedImage
from tasks.storage import Store, join

log = logging.getLogger(__name__)

DATA_DOCS_DIR = "data_docs"


def run_gate(
    plan: list[PlannedImage],
    names: list[str],
    *,
    min_train: int,
    min_val: int,
    info: dict[str, Any] | None = None,
    docs_dir: Path | None = None,
    docs_uri: str | None = None,
    store: Store | None = None,
) -> ValidationReport:
    """Validate the planned dataset; write GX Data Docs to ``docs_dir`` (and ``docs_uri``)."""
    report = validate_frames(
        frames_from_plan(plan, names, info=info), min_train=min_train, min_val=min_val
    )
    if docs_dir is not None:
        index = write_data_docs(report, docs_dir / DATA_DOCS_DIR)
        if docs_uri is not None and store is not None:
            _upload(index.parent, join(docs_uri, DATA_DOCS_DIR), store)
    return report


def _upload(local_dir: Path, uri: str, store: Store) -> None:
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        store.write_bytes(join(uri, *path.relative_to(local_dir).parts), path.read_bytes())


gate_task = task(name="expectations-gate", cache_policy=NONE)(run_gate)
