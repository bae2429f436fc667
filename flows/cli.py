"""What every ``python -m flows.<job>`` shares: quiet defaults, validation, exit codes."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

EXIT_OK, EXIT_INVALID, EXIT_CONFIG = 0, 1, 2

Model = TypeVar("Model", bound=BaseModel)

# Offline defaults: Prefect's temporary server otherwise logs telemetry tracebacks, GX
# phones home, and an unreachable MLflow server would be retried for minutes.
_QUIET_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def quiet_environment() -> None:
    """Set offline-friendly defaults (a user's own settings win)."""
    for name, value in _QUIET_ENV.items():
        os.environ.setdefault(name, value)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def params_or_exit(model: type[Model], values: dict[str, Any]) -> Model:
    """Validate CLI values into the flow's parameter model; exit 2 naming each bad value."""
    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        for item in error.errors():
            field = ".".join(str(p) for p in item["loc"]) or "arguments"
            print(f"error: --{field.replace('_', '-')}: {item['msg']}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


def split_list(value: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None."""
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]
