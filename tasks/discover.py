"""Find the raw images under a URI: the first columns of the images table."""

from __future__ import annotations

import logging

import pandas as pd

from tasks.layout import IMAGE_SUFFIXES
from tasks.retrying import io_task
from tasks.storage import Store, UnsafeKeyError, check_key
from tasks.tables import IMAGE_DISCOVER_COLUMNS, Problem

log = logging.getLogger(__name__)


def discover_images(source_uri: str, store: Store) -> tuple[pd.DataFrame, list[Problem]]:
    """Images below ``source_uri`` by extension (case-insensitive), sorted by key.

    Folder markers and other files are ignored; keys that could escape the root and
    symlinks pointing outside it are reported as problems, never read.
    """
    rows: list[dict[str, object]] = []
    problems: list[Problem] = []
    outside: list[tuple[str, str]] = []
    for obj in store.list(source_uri, skipped=outside):
        if not obj.key.lower().endswith(IMAGE_SUFFIXES):
            continue
        try:
            check_key(obj.key)
        except UnsafeKeyError as error:
            problems.append(Problem(obj.uri, "unsafe-key", str(error), kind="image"))
            continue
        rows.append({"key": obj.key, "uri": obj.uri, "bytes": obj.size, "etag": obj.etag})
    problems += [
        Problem(uri, "symlink-outside-root", f"not read: {reason}", kind="image")
        for uri, reason in outside
        if uri.lower().endswith(IMAGE_SUFFIXES)
    ]
    images = pd.DataFrame(rows, columns=IMAGE_DISCOVER_COLUMNS)
    images = images.sort_values("key", kind="stable").reset_index(drop=True)
    log.info("discovered %d images under %s", len(images), source_uri)
    return images, problems


discover_task = io_task(discover_images, name="discover-images")
