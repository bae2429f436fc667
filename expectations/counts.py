"""Counts: enough images per split; images and labels pair one to one by stem."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.rules import SHOW_WHERE, expect, param


def build_counts_suite() -> gx.ExpectationSuite:
    """At least ``$min_train`` / ``$min_val`` images (``images`` frame)."""
    return gx.ExpectationSuite(
        name="counts",
        expectations=[
            expect(
                gxe.ExpectTableRowCountToBeBetween,
                f"min-{split}-images",
                f"the {split} split needs at least {{min_{split}}} images",
                min_value=param(f"min_{split}"),
                row_condition=Column("split") == split,
            )
            for split in ("train", "val")
        ],
    )


def build_pairs_suite() -> gx.ExpectationSuite:
    """Every image has exactly one label file and every label file an image (``pairs``)."""
    return gx.ExpectationSuite(
        name="pairs",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "label-missing",
                "every image needs a label file with its stem (empty for a background image)",
                noun="images",
                show=SHOW_WHERE,
                column="has_label",
                value_set=[True],
            ),
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "label-extra",
                "every label file needs an image with its stem",
                noun="label files",
                show=SHOW_WHERE,
                column="has_image",
                value_set=[True],
            ),
        ],
    )
