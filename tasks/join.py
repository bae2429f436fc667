"""Join the images table with what the annotations cover."""

from __future__ import annotations

import pandas as pd
from prefect import task

from tasks.tables import STATUS_OK, STATUS_UNLABELED

UNLABELED_REASON = "no annotation source covers this image"


def mark_unlabeled(
    images: pd.DataFrame, labeled_keys: set[str], *, as_background: bool
) -> pd.DataFrame:
    """Images no annotation covers become ``unlabeled`` (listed, not published).

    With ``as_background`` they stay ``ok`` and are published with empty label files.
    An image whose annotation lists no objects is covered: it is a background image.
    """
    uncovered = (images["status"] == STATUS_OK) & ~images["key"].isin(labeled_keys)
    if as_background or not uncovered.any():
        return images
    out = images.copy()
    out.loc[uncovered, ["status", "reason"]] = [STATUS_UNLABELED, UNLABELED_REASON]
    return out


join_task = task(name="mark-unlabeled")(mark_unlabeled)
