"""Fixtures for the suites' tests: a small valid dataset on local disk, and a checker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from expectations import ValidationReport, frames_from_dataset, validate_frames
from tasks.storage import Store
from tests.expectations.factory import write_dataset

# the fixture's dataset is small: 6 train / 3 val images
SMALL_LIMITS = {"min_train": 5, "min_val": 3}


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def dataset(tmp_path: Path, store: Store) -> Path:
    """Images, labels and data.yaml of a valid dataset; dataset_info.json not yet written."""
    root = tmp_path / "ds"
    write_dataset(store, str(root))
    return root


@pytest.fixture
def check(store: Store) -> Callable[..., ValidationReport]:
    """Validate the dataset at a path with the small limits (overridable)."""

    def run(root: Path, **limits: Any) -> ValidationReport:
        frames = frames_from_dataset(str(root), store)
        return validate_frames(frames, **{**SMALL_LIMITS, **limits})

    return run
