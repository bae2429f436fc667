"""What a Ground Truth bounding-box job costs, and how many objects a budget pays for.

Cost per data object = the Ground Truth per-object fee + (public workforce only) workers
per object x the price per task paid to each Mechanical Turk worker. Private and vendor
teams are paid outside AWS's task price, so only the fee counts for them here.
Money is :class:`~decimal.Decimal` throughout: no float rounding in a budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

log = logging.getLogger(__name__)

# SageMaker API reference, PublicWorkforceTaskPrice: the prices allowed for bounding-box tasks.
BOUNDING_BOX_TASK_PRICES_USD = tuple(
    Decimal(p)
    for p in (
        "0.036",
        "0.048",
        "0.060",
        "0.072",
        "0.120",
        "0.240",
        "0.360",
        "0.480",
        "0.600",
        "0.720",
        "0.840",
        "0.960",
        "1.080",
        "1.200",
    )
)
DEFAULT_PER_OBJECT_FEE_USD = Decimal("0.08")
MAX_WORKERS_PER_OBJECT = 9  # HumanTaskConfig.NumberOfHumanWorkersPerDataObject range 1..9
_PUBLIC_WORKTEAM_MARKER = ":workteam/public-crowd/"


class BudgetExceededError(RuntimeError):
    """The estimate is over the budget and the caller asked to refuse rather than cap."""


def is_public_workteam(workteam_arn: str) -> bool:
    """Mechanical Turk: ``arn:aws:sagemaker:<region>:394669845002:workteam/public-crowd/...``."""
    return _PUBLIC_WORKTEAM_MARKER in workteam_arn


def check_task_price(price_usd: Decimal | str | float | None) -> Decimal:
    """Return the price as a Decimal if AWS allows it for bounding-box tasks, else raise."""
    if price_usd is None:
        raise ValueError("a public (Mechanical Turk) workforce needs --price-usd")
    try:
        price = Decimal(str(price_usd))
    except ArithmeticError:
        raise ValueError(f"--price-usd must be a number, got {price_usd!r}") from None
    if price not in BOUNDING_BOX_TASK_PRICES_USD:
        allowed = ", ".join(f"{p}" for p in BOUNDING_BOX_TASK_PRICES_USD)
        raise ValueError(
            f"--price-usd {price_usd} is not an allowed public bounding-box task price; "
            f"expected one of {allowed}"
        )
    return price


def usd_amount(price_usd: Decimal) -> dict[str, int]:
    """The API's ``USD`` shape: whole dollars, cents and tenths of a cent."""
    tenths = int((price_usd * 1000).to_integral_value())
    if Decimal(tenths) != price_usd * 1000:
        raise ValueError(f"{price_usd} USD has more precision than a tenth of a cent")
    return {
        "Dollars": tenths // 1000,
        "Cents": tenths % 1000 // 10,
        "TenthFractionsOfACent": tenths % 10,
    }


@dataclass(frozen=True)
class CostEstimate:
    objects: int
    workers_per_object: int
    task_price_usd: Decimal  # paid per worker per object; 0 for private teams
    per_object_fee_usd: Decimal
    public_workforce: bool

    @property
    def per_object_usd(self) -> Decimal:
        return self.per_object_fee_usd + self.workers_per_object * self.task_price_usd

    @property
    def total_usd(self) -> Decimal:
        return self.objects * self.per_object_usd


def estimate_cost(
    objects: int,
    workers_per_object: int,
    workteam_arn: str,
    task_price_usd: Decimal | str | float | None = None,
    per_object_fee_usd: Decimal | str | float = DEFAULT_PER_OBJECT_FEE_USD,
) -> CostEstimate:
    """Estimate a job; a public workforce needs an allowed ``task_price_usd``."""
    if not 1 <= workers_per_object <= MAX_WORKERS_PER_OBJECT:
        raise ValueError(
            f"workers per object must be 1..{MAX_WORKERS_PER_OBJECT}, got {workers_per_object}"
        )
    public = is_public_workteam(workteam_arn)
    if not public and task_price_usd is not None:
        log.info(
            "private workforce: --price-usd %s is not paid through AWS, ignored", task_price_usd
        )
    price = check_task_price(task_price_usd) if public else Decimal(0)
    fee = Decimal(str(per_object_fee_usd))
    if fee < 0:
        raise ValueError(f"per-object fee must be >= 0, got {fee}")
    return CostEstimate(objects, workers_per_object, price, fee, public)


@dataclass(frozen=True)
class BudgetDecision:
    max_labeled_objects: int  # StoppingConditions.MaxHumanLabeledObjectCount
    capped: bool
    message: str


def apply_budget(
    estimate: CostEstimate, budget_usd: Decimal | str | float, strict: bool
) -> BudgetDecision:
    """Cap the objects at what the budget pays for, or refuse when ``strict``."""
    budget = Decimal(str(budget_usd))
    if budget <= 0:
        raise ValueError(f"--budget-usd must be positive, got {budget_usd}")
    if estimate.objects < 1:
        raise ValueError("no images to label")
    if estimate.total_usd <= budget:
        return BudgetDecision(
            estimate.objects,
            False,
            f"estimate ${estimate.total_usd:.2f} is within the budget ${budget:.2f}",
        )
    affordable = int((budget / estimate.per_object_usd).to_integral_value(ROUND_FLOOR))
    over = (
        f"estimate ${estimate.total_usd:.2f} for {estimate.objects} objects exceeds the budget "
        f"${budget:.2f} (${estimate.per_object_usd} per object)"
    )
    if strict:
        raise BudgetExceededError(f"{over}; refused (--strict-budget)")
    if affordable < 1:
        raise BudgetExceededError(f"{over}; the budget does not pay for a single object")
    message = (
        f"{over}; MaxHumanLabeledObjectCount capped at {affordable} "
        f"(${affordable * estimate.per_object_usd:.2f})"
    )
    return BudgetDecision(affordable, True, message)


def cost_table(
    estimate: CostEstimate, budget_usd: Decimal | str | float, decision: BudgetDecision | None
) -> str:
    """A plain-text table of the estimate, for the terminal and the Prefect artifact."""
    workforce = "public (Mechanical Turk)" if estimate.public_workforce else "private team"
    rows = [
        ("workforce", workforce),
        ("objects", str(estimate.objects)),
        ("workers per object", str(estimate.workers_per_object)),
        ("price per task (USD)", f"{estimate.task_price_usd:.3f}"),
        ("Ground Truth fee per object (USD)", f"{estimate.per_object_fee_usd:.3f}"),
        ("cost per object (USD)", f"{estimate.per_object_usd:.3f}"),
        ("estimate (USD)", f"{estimate.total_usd:.2f}"),
        ("budget (USD)", f"{Decimal(str(budget_usd)):.2f}"),
    ]
    if decision is not None:
        rows.append(("max human-labeled objects", str(decision.max_labeled_objects)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
