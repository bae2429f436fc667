"""The counts and pairs suites: minimum images per split, one label per image by stem."""

from __future__ import annotations

import pytest

from tests.expectations.factory import failed_rules, finish_dataset


def test_missing_label_is_rejected_naming_the_image(dataset, store, check) -> None:
    (dataset / "train/labels/img_0002.txt").unlink()
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert failed_rules(report) == ["label-missing"]
    assert "1 images fail, e.g. train/images/img_0002.jpg" in report.failures[0]


def test_extra_label_is_rejected_naming_the_label(dataset, store, check) -> None:
    (dataset / "val/labels/stray.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert failed_rules(report) == ["label-extra"]
    assert "val/labels/stray.txt" in report.failures[0]


def test_label_in_the_other_split_does_not_pair(dataset, store, check) -> None:
    (dataset / "val/labels/img_0000.txt").write_text("")
    finish_dataset(store, str(dataset))

    assert failed_rules(check(dataset)) == ["label-extra"]


def test_too_few_val_images_is_rejected_with_the_count(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))

    report = check(dataset, min_val=4)

    assert failed_rules(report) == ["min-val-images"]
    assert report.failures[0] == ("min-val-images: the val split needs at least 4 images - found 3")


@pytest.mark.parametrize(("declared", "passes"), [(1, False), (3, True), (10, False)])
def test_dataset_info_may_raise_the_minimum_but_not_lower_it(
    dataset, store, check, declared: int, passes: bool
) -> None:
    params = {"seed": 42, "min_train": 1, "min_val": declared}
    finish_dataset(store, str(dataset), parameters=params)

    report = check(dataset, min_val=4 if declared == 1 else 3)

    assert report.success is passes
    assert report.statistics["thresholds"]["min_val"] == max(declared, 4 if declared == 1 else 3)
