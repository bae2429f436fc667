"""Cost estimate and budget: public and private workforces, cap and refuse."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tasks.labeling_cost import (
    BOUNDING_BOX_TASK_PRICES_USD,
    BudgetExceededError,
    apply_budget,
    check_task_price,
    cost_table,
    estimate_cost,
    is_public_workteam,
    usd_amount,
)

PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
PRIVATE = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/drone-team"


def test_workteam_kind() -> None:
    assert is_public_workteam(PUBLIC)
    assert not is_public_workteam(PRIVATE)


def test_public_estimate_adds_fee_and_worker_pay() -> None:
    estimate = estimate_cost(250, 3, PUBLIC, "0.036")
    assert estimate.public_workforce
    assert estimate.per_object_usd == Decimal("0.08") + 3 * Decimal("0.036")  # 0.188
    assert estimate.total_usd == Decimal("47.000")


def test_private_estimate_is_fee_only_and_ignores_price() -> None:
    estimate = estimate_cost(250, 3, PRIVATE, "0.036")
    assert not estimate.public_workforce
    assert estimate.task_price_usd == 0
    assert estimate.total_usd == Decimal("20.00")


def test_fee_is_a_parameter() -> None:
    assert estimate_cost(10, 1, PRIVATE, per_object_fee_usd="0.04").total_usd == Decimal("0.40")


@pytest.mark.parametrize("price", ["0.05", "0.012", "2.400", "abc", None])
def test_price_not_allowed_for_bounding_boxes_is_refused(price: str | None) -> None:
    with pytest.raises(ValueError, match="price"):
        estimate_cost(10, 1, PUBLIC, price)


def test_every_documented_price_is_allowed() -> None:
    assert len(BOUNDING_BOX_TASK_PRICES_USD) == 14
    for price in BOUNDING_BOX_TASK_PRICES_USD:
        assert check_task_price(str(price)) == price
    assert check_task_price(0.036) == Decimal("0.036")


@pytest.mark.parametrize("workers", [0, 10])
def test_workers_per_object_range(workers: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.9"):
        estimate_cost(10, workers, PRIVATE)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("0.036", {"Dollars": 0, "Cents": 3, "TenthFractionsOfACent": 6}),
        ("0.120", {"Dollars": 0, "Cents": 12, "TenthFractionsOfACent": 0}),
        ("1.080", {"Dollars": 1, "Cents": 8, "TenthFractionsOfACent": 0}),
    ],
)
def test_usd_amount(price: str, expected: dict[str, int]) -> None:
    assert usd_amount(Decimal(price)) == expected


def test_within_budget_keeps_every_object() -> None:
    decision = apply_budget(estimate_cost(100, 1, PUBLIC, "0.036"), 100, strict=True)
    assert (decision.max_labeled_objects, decision.capped) == (100, False)


def test_public_over_budget_caps_at_what_the_budget_pays() -> None:
    estimate = estimate_cost(1000, 2, PUBLIC, "0.048")  # 0.176 per object, $176
    decision = apply_budget(estimate, 100, strict=False)
    assert decision.capped
    assert decision.max_labeled_objects == 568  # floor(100 / 0.176)
    assert 568 * estimate.per_object_usd <= 100 < 569 * estimate.per_object_usd
    assert "capped at 568" in decision.message


def test_private_over_budget_caps_on_the_fee_alone() -> None:
    decision = apply_budget(estimate_cost(1000, 5, PRIVATE), "10", strict=False)
    assert (decision.max_labeled_objects, decision.capped) == (125, True)


@pytest.mark.parametrize("workteam", [PUBLIC, PRIVATE])
def test_strict_budget_refuses(workteam: str) -> None:
    estimate = estimate_cost(1000, 1, workteam, "0.036")
    with pytest.raises(BudgetExceededError, match="strict-budget"):
        apply_budget(estimate, 10, strict=True)


def test_budget_that_pays_for_nothing_is_refused() -> None:
    with pytest.raises(BudgetExceededError, match="single object"):
        apply_budget(estimate_cost(10, 1, PUBLIC, "1.200"), "0.5", strict=False)


def test_cost_table_lists_the_figures() -> None:
    estimate = estimate_cost(1000, 2, PUBLIC, "0.048")
    table = cost_table(estimate, 100, apply_budget(estimate, 100, strict=False))
    rows = dict(re.fullmatch(r"(.*?)\s{2,}(\S.*)", line).groups() for line in table.splitlines())
    assert rows["estimate (USD)"] == "176.00"
    assert rows["cost per object (USD)"] == "0.176"
    assert rows["max human-labeled objects"] == "568"
    assert rows["workforce"] == "public (Mechanical Turk)"
