"""Images: a supported format, whole (or decodable), and large enough."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import SHOW_WHERE, expect, param

SUPPORTED_FORMATS = ["JPEG", "PNG"]


def build_images_suite() -> gx.ExpectationSuite:
    """Rules over the ``images`` frame."""
    return gx.ExpectationSuite(
        name="images",
        expectations=[
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "image-format",
                "images must be JPEG or PNG",
                noun="images",
                column="format",
                value_set=SUPPORTED_FORMATS,
            ),
            expect(
                gxe.ExpectColumnValuesToBeInSet,
                "image-decodes",
                "images must be whole and decodable",
                noun="images",
                show=SHOW_WHERE,
                column="decodes",
                value_set=[True],
            ),
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                "image-min-side",
                "images need a shorter side of at least {min_image_side} px",
                noun="images",
                column="min_side_px",
                min_value=param("min_image_side"),
            ),
        ],
    )
