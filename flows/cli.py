"""What every ``python -m flows.<job>`` shares: quiet defaults, validation, exit codes."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

EXIT_OK, EXIT_INVALID, EXIT_CONFIG = 0, 1, 2

Model = TypeVar("Model", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

# Offline defaults: Prefect's temporary server otherwise logs telemetry tracebacks, GX
# phones home, and an unreachable MLflow server would be retried for minutes.
_QUIET_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # the temporary server's 20 s start-up limit is too tight on a busy 2-core machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # not "Creating initial MLflow database tables..."
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def flow_parser(job: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m flows.<job>``: the module docstring is its help text."""
    return argparse.ArgumentParser(
        prog=f"python -m flows.{job}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


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


def expected_failures(*errors: type[BaseException]) -> Callable[[F], F]:
    """Turn the given exceptions, raised by a flow body, into a Failed state.

    They are the user's to fix (an existing dataset, unknown classes, a locked name): the
    run ends Failed with the message, and the CLI exits 2 without a traceback.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from prefect.states import Failed

            try:
                return fn(*args, **kwargs)
            except errors as error:
                return Failed(
                    message=str(error), data={"exit_code": EXIT_CONFIG, "error": str(error)}
                )

        return wrapper  # type: ignore[return-value]

    return decorate


def run_and_report(flow_fn: Any, params: BaseModel) -> int:
    """Run a flow on the chosen task runner; print its summary lines; return the exit code."""
    from tasks.runners import make_task_runner
    from tasks.settings import Settings

    try:
        Settings()  # DRONEPREP_* from the environment: bad values stop here, before any work
        runner = make_task_runner(params.task_runner, params.dask_address)
    except (ValidationError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    state = flow_fn.with_options(task_runner=runner)(params, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, dict) and "exit_code" in result:
        print(f"error: {result['error']}", file=sys.stderr)
        return int(result["exit_code"])
    if isinstance(result, BaseException):
        print(f"error: {type(result).__name__}: {result}", file=sys.stderr)
        return EXIT_INVALID
    for line in result.get("lines", []):
        print(line)
    return EXIT_OK if state.is_completed() else EXIT_INVALID
