"""The labels suite: each broken line is rejected with its rule, file and line."""

from __future__ import annotations

import pytest

from tests.expectations.factory import failed_rules, finish_dataset

LABEL = "train/labels/img_0000.txt"
GOOD = "0 0.500000 0.500000 0.400000 0.300000"


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("0 0.5 0.5 0.1", "label-fields"),
        ("0 0.5 0.5 0.1 0.1 0.9", "label-fields"),
        ("0 nan 0.5 0.1 0.1", "label-numeric"),
        ("0 0.5 inf 0.1 0.1", "label-numeric"),
        ("car 0.5 0.5 0.1 0.1", "label-numeric"),
        ("2 0.5 0.5 0.1 0.1", "label-class-id"),
        ("-1 0.5 0.5 0.1 0.1", "label-class-id"),
        ("1.5 0.5 0.5 0.1 0.1", "label-class-id"),
        ("0 1.2 0.5 0.1 0.1", "label-x-center-range"),
        ("0 0.5 -0.1 0.1 0.1", "label-y-center-range"),
        ("0 0.5 0.5 1.3 0.1", "label-width-range"),
        ("0 0.5 0.5 0.1 0", "label-box-positive"),
        ("0 0.95 0.5 0.2 0.1", "label-box-inside"),
        (GOOD, "label-duplicate-line"),
    ],
)
def test_broken_label_line_is_rejected_with_its_rule_and_place(
    dataset, store, check, line: str, rule: str
) -> None:
    path = dataset / LABEL
    path.write_text(path.read_text() + line + "\n")
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert not report.success
    assert rule in failed_rules(report)
    sentence = next(f for f in report.failures if f.startswith(rule))
    assert f"{LABEL}:3" in sentence
    assert "1 lines fail" in sentence or "2 lines fail" in sentence


def test_blank_lines_and_empty_label_files_are_fine(dataset, store, check) -> None:
    path = dataset / LABEL
    path.write_text("\n" + path.read_text() + "\n  \n")
    (dataset / "train/labels/img_0001.txt").write_text("")
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert report.success, report.failures
    assert report.statistics["splits"]["train"]["background_images"] == 2


def test_failure_quotes_at_most_ten_examples(dataset, store, check) -> None:
    path = dataset / LABEL
    path.write_text("".join(f"0 0.5 0.5 0.1 {i + 2}\n" for i in range(25)))
    finish_dataset(store, str(dataset))

    report = check(dataset)

    sentence = next(f for f in report.failures if f.startswith("label-height-range"))
    assert "25 lines fail" in sentence
    assert sentence.count(LABEL) == 10
