"""MLflow tracking: choose where runs go, fall back to a local store, log a run.

The tracking URI comes from ``--tracking-uri``, then ``MLFLOW_TRACKING_URI``, then a local
``sqlite:///<workdir>/mlflow.db`` (MLflow 3.17 refuses the plain file store). A remote
server (http(s) or a SageMaker tracking-server ARN through the sagemaker-mlflow plugin) is
probed once with short timeouts and no retries; when it does not answer, droneprep warns
once with the reason and records the run locally, tagging it with where it was meant to go.

The flows call these plain functions; nothing here needs a Prefect context.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "drone-imagery-data-exploration"
LOCAL_DB_NAME = "mlflow.db"
PROBE_TIMEOUT_S = 3
PROBE_DEADLINE_S = 8.0
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_DIGEST_LENGTH = 32  # MLflow stores at most 36 characters of a dataset digest

TAG_STAGE = "droneprep.stage"
TAG_DATASET = "droneprep.dataset"
TAG_INTENDED_URI = "droneprep.intended_tracking_uri"
TAG_FALLBACK_REASON = "droneprep.tracking_fallback_reason"
TAG_FILES_DIGEST = "droneprep.files_digest"

# sagemaker-mlflow's header provider fails for every non-ARN request and MLflow's registry
# logs that at WARNING ("resolving request headers: list index out of range") per request.
HEADER_REGISTRY_LOGGER = "mlflow.tracking.request_header.registry"

_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:mlflow-[a-z-]+/.+$")
_KEY_PART_INVALID = re.compile(r"[^A-Za-z0-9_.\- ]+")
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs are recorded (``uri``) and where they were meant to go."""

    uri: str
    intended_uri: str
    fallback_reason: str | None = None

    @property
    def fell_back(self) -> bool:
        return self.fallback_reason is not None

    def notes(self) -> list[str]:
        """One sentence for the run summary when the run was recorded elsewhere."""
        if not self.fell_back:
            return []
        return [f"MLflow at {self.intended_uri} was not usable ({self.fallback_reason}); "
                f"the run was recorded in {self.uri}"]  # fmt: skip

    def tags(self) -> dict[str, str]:
        """Run tags naming the intended store when the run was recorded elsewhere."""
        if not self.fell_back:
            return {}
        return {TAG_INTENDED_URI: self.intended_uri, TAG_FALLBACK_REASON: self.fallback_reason}


def quiet_plugin_warnings() -> None:
    """Keep sagemaker-mlflow's per-request header warning out of the user's output."""
    logging.getLogger(HEADER_REGISTRY_LOGGER).setLevel(logging.ERROR)


def local_tracking_uri(workdir: Path) -> str:
    """The local default store: ``sqlite:///<workdir>/mlflow.db`` (absolute)."""
    return f"sqlite:///{Path(workdir).resolve() / LOCAL_DB_NAME}"


def local_artifact_location(uri: str) -> str | None:
    """``file://`` URI of ``mlartifacts/`` beside a local sqlite store, else None.

    Without it MLflow puts a sqlite store's artifacts in ``./mlruns`` of whatever folder
    the process runs in.
    """
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").resolve().as_uri()


def resolve_tracking_uri(cli_value: str | None, *, workdir: Path) -> str:
    """``--tracking-uri``, then ``MLFLOW_TRACKING_URI``, then the local sqlite store."""
    for value in (cli_value, os.environ.get("MLFLOW_TRACKING_URI")):
        if value and value.strip():
            return value.strip()
    return local_tracking_uri(workdir)


def is_sagemaker_arn(uri: str) -> bool:
    return bool(_ARN_PATTERN.match(uri))


def needs_probe(uri: str) -> bool:
    """Remote stores are probed; local sqlite and file stores are not."""
    return uri.startswith(("http://", "https://")) or is_sagemaker_arn(uri)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """Set MLflow's global tracking URI for a block, then restore it and the env variable.

    sagemaker-mlflow reads the *global* URI to route and sign each request, so a client
    built with ``tracking_uri=`` alone is not enough for an ARN.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_global = tracking_utils._tracking_uri
    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_global)  # None also unsets MLFLOW_TRACKING_URI
        if saved_env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def probe_tracking_server(uri: str, *, deadline_s: float = PROBE_DEADLINE_S) -> str | None:
    """Ask the server for one experiment; return why it failed, or None when it answered.

    No retries and a 3 s HTTP timeout; the whole probe (DNS, credentials, signing) is also
    bounded by ``deadline_s`` so a fallback never waits for MLflow's default backoff (246 s).
    """
    from mlflow.tracking import MlflowClient

    quiet_plugin_warnings()
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
            outcome.append(None)
        except Exception as exc:  # any failure means "not usable": report it, fall back
            outcome.append(_one_line(exc))

    probe_env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
    with _environment(probe_env), _global_tracking_uri(uri):
        worker = threading.Thread(target=ask, name="mlflow-probe", daemon=True)
        worker.start()
        worker.join(deadline_s)
    if not outcome:
        return f"no answer from {uri} within {deadline_s:g} s"
    return outcome[0]


def choose_tracking_target(cli_value: str | None, *, workdir: Path) -> TrackingTarget:
    """Resolve the URI, probe a remote one, and fall back to local sqlite when it fails.

    Warns once per (URI, reason) in a process, naming the reason.
    """
    intended = resolve_tracking_uri(cli_value, workdir=workdir)
    if not needs_probe(intended):
        return TrackingTarget(uri=intended, intended_uri=intended)
    reason = probe_tracking_server(intended)
    if reason is None:
        return TrackingTarget(uri=intended, intended_uri=intended)
    local = local_tracking_uri(workdir)
    if (intended, reason) not in _warned:
        _warned.add((intended, reason))
        logger.warning(
            "MLflow tracking server %s is not usable (%s); recording this run in %s instead",
            intended,
            reason,
            local,
        )
    return TrackingTarget(uri=local, intended_uri=intended, fallback_reason=reason)


def _sanitize_part(part: str) -> str:
    cleaned = _KEY_PART_INVALID.sub("_", str(part)).strip()
    return "_" if cleaned.strip(".") == "" else cleaned


def metric_key(*parts: object) -> str:
    """One valid MLflow key from parts (class names etc.), joined by ``/``.

    Each part keeps ASCII letters, digits, ``_ . - `` and space; anything else (including
    ``/`` inside a class name) becomes ``_``, so a part never adds a level or escapes one.
    """
    return "/".join(_sanitize_part(str(part)) for part in parts)[:MAX_KEY_LENGTH]


def sanitize_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` with valid, unique MLflow keys (``/`` kept as the level separator).

    Keys that are already valid keep their names; others that clean up to a taken key get
    ``_2``, ``_3``... in sorted order, so the result does not depend on insertion order.
    """
    renamed: dict[str, Any] = {}
    for original in sorted(values, key=lambda k: (metric_key(*str(k).split("/")) != k, str(k))):
        base = metric_key(*str(original).split("/"))
        key, counter = base, 2
        while key in renamed:
            suffix = f"_{counter}"
            key, counter = base[: MAX_KEY_LENGTH - len(suffix)] + suffix, counter + 1
        if key != original:
            logger.debug("MLflow key %r logged as %r", original, key)
        renamed[key] = values[original]
    return renamed


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    return text[:MAX_PARAM_VALUE_LENGTH]


@contextmanager
def _first_use_lock(uri: str) -> Iterator[None]:
    """Serialize, across processes, the first use of a local sqlite store.

    MLflow creates the schema (an alembic migration) the first time a process opens an
    empty database, and creates the experiment when it is missing; two runs starting
    together in one folder would both do it and one fails. An exclusive ``flock`` on
    ``<db>.lock`` makes the second wait until the first has finished. Remote stores need
    no lock: their server does this once.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    lock_path = Path(uri[len("sqlite:///") :] + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def start_run(
    target: TrackingTarget,
    *,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    stage: str | None = None,
    dataset_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Open an MLflow run in ``experiment`` at ``target.uri``; yields the run id.

    Tags: ``droneprep.stage``, ``droneprep.dataset`` and, after a fallback, the intended
    URI and the reason. The global tracking URI is restored on exit.
    """
    import mlflow

    quiet_plugin_warnings()
    run_tags = {**target.tags(), **dict(tags or {})}
    if stage:
        run_tags[TAG_STAGE] = stage
    if dataset_name:
        run_tags[TAG_DATASET] = dataset_name
    with _global_tracking_uri(target.uri):
        with _first_use_lock(target.uri):
            found = mlflow.get_experiment_by_name(experiment)
            experiment_id = (
                found.experiment_id
                if found is not None
                else mlflow.create_experiment(
                    experiment, artifact_location=local_artifact_location(target.uri)
                )
            )
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags) as run:
            yield run.info.run_id


def log_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Log parameters (lists and dicts as JSON) under sanitised keys; returns what was logged."""
    import mlflow

    logged = {key: _param_text(value) for key, value in sanitize_keys(params).items()}
    if logged:
        mlflow.log_params(logged)
    return logged


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> dict[str, float]:
    """Log numeric metrics under sanitised keys; returns what was logged."""
    import mlflow

    logged = {key: float(value) for key, value in sanitize_keys(metrics).items()}
    if logged:
        mlflow.log_metrics(logged, step=step)
    return logged


def log_artifacts(local_dir: Path, artifact_path: str | None = None) -> None:
    """Log every file under ``local_dir`` (report, charts, Data Docs) as run artifacts."""
    import mlflow

    mlflow.log_artifacts(str(local_dir), artifact_path=artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Log ``text`` as one artifact file (e.g. ``dataset/dataset_info.json``)."""
    import mlflow

    mlflow.log_text(text, artifact_file)


def dataset_reference(dataset_uri: str, files_digest: str, name: str) -> Any:
    """An MLflow dataset for a published dataset: source = its URI, digest = file-list hash.

    A training run logs the same object (``mlflow.log_input(ref, context="training")``) and
    MLflow links both runs to one dataset. MLflow keeps at most 36 characters of a digest,
    so the first 32 hex digits of ``files_digest`` are used; the full hash is a tag.
    """
    import warnings

    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    if not files_digest:
        raise ValueError(f"dataset {name!r} needs a files digest, got {files_digest!r}")
    with warnings.catch_warnings():
        # a local path matches two identical registered sources; MLflow warns and picks one
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(dataset_uri)
    return MetaDataset(source=source, name=name, digest=files_digest[:MAX_DIGEST_LENGTH])


def log_dataset_input(
    dataset_uri: str, files_digest: str, name: str, *, context: str = "published"
) -> None:
    """Log the published dataset as this run's dataset input (lineage for training runs)."""
    import mlflow

    reference = dataset_reference(dataset_uri, files_digest, name)
    mlflow.log_input(reference, context=context, tags={TAG_FILES_DIGEST: files_digest})
    mlflow.set_tag(TAG_FILES_DIGEST, files_digest)
