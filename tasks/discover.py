"""Find the raw images under a URI: the first columns of the images table."""

from __future__ import annotations

import logging

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from tasks.layout import IMAGE_SUFFIXES
from tasks.storage import Store, UnsafeKeyError, check_key, retry_unless_permanent
from tasks.tables import IMAGE_DISCOVER_COLUMNS, Problem

log = logging.getLogger(__name__)


def discover_images(source_uri: str, store: Store) -> tuple[pd.DataFrame, list[Problem]]:
    """Images below ``source_uri`` by extension (case-insensitive), sorted by key.

    Folder markers and other files are ignored; keys that could escape the root are
    reported as problems, never read.
    """
    rows: list[dict[str, object]] = []
    problems: list[Problem] = []
    for obj in store.list(source_uri):
        if not obj.key.lower().endswith(IMAGE_SUFFIXES):
            continue
        try:
            check_key(obj.key)
        except UnsafeKeyError as error:
            problems.append(Problem(obj.uri, "unsafe-key", str(error), kind="image"))
            continue
        rows.append({"key": obj.key, "uri": obj.uri, "bytes": obj.size, "etag": obj.etag})
    images = pd.DataFrame(rows, columns=IMAGE_DISCOVER_COLUMNS)
    images = images.sort_values("key", kind="stable").reset_index(drop=True)
    log.info("discovered %d images under %s", len(images), source_uri)
    return images, problems


discover_task = task(
    name="discover-images",
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_unless_permanent,
    cache_policy=NONE,
)(discover_images)
