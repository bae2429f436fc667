"""Unlabeled images are listed, not published, unless they count as background."""

from __future__ import annotations

import pandas as pd

from tasks.join import UNLABELED_REASON, mark_unlabeled


def _images() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": ["a.jpg", "b.jpg", "c.jpg"],
            "status": ["ok", "ok", "quarantined"],
            "reason": [None, None, "truncated"],
        }
    )


def test_uncovered_images_become_unlabeled() -> None:
    out = mark_unlabeled(_images(), {"a.jpg"}, as_background=False)
    assert out["status"].tolist() == ["ok", "unlabeled", "quarantined"]
    assert out["reason"].fillna("").tolist() == ["", UNLABELED_REASON, "truncated"]


def test_as_background_keeps_them() -> None:
    images = _images()
    assert mark_unlabeled(images, {"a.jpg"}, as_background=True).equals(images)
