"""The profiling step every flow shares: batches mapped over Prefect tasks, cached on content."""

from dataclasses import dataclass

import pandas as pd
from prefect import get_run_logger, unmapped

from tasks.profile import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_NEAR_DUP_DISTANCE,
    combine_batches,
    flag_task,
    profile_task,
    quarantine_problems,
    split_batches,
)
from tasks.storage import Store
from tasks.tables import Problem

DEFAULT_BATCH_SIZE = 300


@dataclass(frozen=True)
class Profiled:
    images: pd.DataFrame
    problems: list[Problem]
    batches: int
    batches_cached: int


def profile_and_flag(
    images: pd.DataFrame,
    store: Store,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int = 2,
    near_dup_distance: int = DEFAULT_NEAR_DUP_DISTANCE,
) -> Profiled:
    """Profile every image (unchanged batches come from the cache, and the log says so)."""
    futures = profile_task.map(
        split_batches(images, batch_size),
        store=unmapped(store),
        max_pixels=max_pixels,
        workers=workers,
    )
    futures.wait()
    cached = sum(future.state.name == "Cached" for future in futures)
    get_run_logger().info(
        "profiled %d images in %d batches: %d re-profiled, %d from cache (unchanged content)",
        len(images),
        len(futures),
        len(futures) - cached,
        cached,
    )
    flagged = flag_task(combine_batches(futures.result()), near_dup_distance=near_dup_distance)
    return Profiled(flagged, quarantine_problems(flagged), len(futures), cached)
