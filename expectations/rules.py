"""How an expectation carries its rule name and the sentence a person reads when it fails."""

from __future__ import annotations

from typing import Any

SHOW_BOTH, SHOW_WHERE, SHOW_VALUE, SHOW_NONE = "both", "where", "value", "none"


def expect(
    expectation_cls: type,
    rule: str,
    message: str,
    *,
    noun: str = "rows",
    show: str = SHOW_BOTH,
    **kwargs: Any,
) -> Any:
    """An expectation whose ``meta`` names its rule.

    ``message`` may name thresholds in braces (``{min_val}``); the runner fills them in.
    ``noun`` counts the failing rows (``lines``, ``files``); ``show`` picks what an example
    quotes: the row's ``where``, the failing value, both, or nothing (one-row frames).
    """
    meta = {"rule": rule, "message": message, "noun": noun, "show": show}
    return expectation_cls(meta=meta, **kwargs)


def param(name: str) -> dict[str, str]:
    """A suite parameter, filled in at run time (``expectation_parameters``)."""
    return {"$PARAMETER": name}
