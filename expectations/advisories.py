"""Warnings: what a person should know about a dataset that is still valid."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import SHOW_WHERE, expect, param


def build_rare_classes_suite() -> gx.ExpectationSuite:
    """Each class has enough instances in each split (``class_counts``)."""
    return gx.ExpectationSuite(
        name="rare-classes",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "warn-rare-class",
                "each class should have at least {min_class_instances} instances per split",
                noun="classes",
                column="instances",
                min_value=param("min_class_instances"),
            ),
        ],
    )


def build_balance_suite() -> gx.ExpectationSuite:
    """Class imbalance and background share per split (``splits``)."""
    return gx.ExpectationSuite(
        name="balance",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "warn-imbalance",
                "the most common "
                "class should have at most {max_imbalance_ratio}x the instances of the "
                "rarest",
                noun="splits",
                column="imbalance_ratio",
                max_value=param("max_imbalance_ratio"),
            ),
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "warn-background-share",
                "background "
                "images should be {min_background_share:.0%}-{max_background_share:.0%} "
                "of a split",
                noun="splits",
                column="background_share",
                min_value=param("min_background_share"),
                max_value=param("max_background_share"),
            ),
        ],
    )


def build_tiny_boxes_suite() -> gx.ExpectationSuite:
    """Boxes that shrink below a few pixels at the training imgsz (``label_lines``)."""
    return gx.ExpectationSuite(
        name="tiny-boxes",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "warn-tiny-box",
                "boxes should be at least {min_box_px} px on their shorter side at imgsz {imgsz}",
                noun="boxes",
                column="box_min_side_at_imgsz_px",
                min_value=param("min_box_px"),
            ),
        ],
    )


def build_cross_split_suite() -> gx.ExpectationSuite:
    """Duplicate groups listed in dataset_info.json stay inside one split (``groups``)."""
    return gx.ExpectationSuite(
        name="cross-split",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "warn-cross-split-duplicates",
                "near-duplicate groups should not span train and val",
                noun="groups",
                show=SHOW_WHERE,
                column="n_splits",
                max_value=1,
            ),
        ],
    )
