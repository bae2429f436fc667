"""Run the suites on a dataset's frames in one ephemeral GX context; failures become sentences.

Great Expectations is imported here lazily (it takes seconds): ``import expectations`` stays
cheap for callers that only build frames or read reports.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from expectations.frames import DatasetFrames
from expectations.rules import SHOW_NONE, SHOW_VALUE, SHOW_WHERE

log = logging.getLogger(__name__)

MAX_EXAMPLES = 10
FAIL, WARN = "fail", "warn"
PLAN, DATASET = "plan", "dataset"
DOCS_SITE = "droneprep"
_SUMMARY = {
    "result_format": "SUMMARY",
    "unexpected_index_column_names": ["where"],
    "partial_unexpected_count": MAX_EXAMPLES,
}


@dataclass(frozen=True)
class SuiteRun:
    """One suite on one frame: failing it fails the dataset (``fail``) or only warns."""

    module: str
    builder: str
    frame: str
    severity: str
    kinds: tuple[str, ...] = (PLAN, DATASET)


SUITE_RUNS = (
    SuiteRun("structure", "build_layout_suite", "dataset", FAIL, (DATASET,)),
    SuiteRun("structure", "build_structure_suite", "dataset", FAIL),
    SuiteRun("structure", "build_names_suite", "names", FAIL),
    SuiteRun("counts", "build_counts_suite", "images", FAIL),
    SuiteRun("counts", "build_pairs_suite", "pairs", FAIL),
    SuiteRun("labels", "build_labels_suite", "label_lines", FAIL),
    SuiteRun("images", "build_images_suite", "images", FAIL),
    SuiteRun("integrity", "build_integrity_suite", "files", FAIL, (DATASET,)),
    SuiteRun("integrity", "build_digest_suite", "dataset", FAIL, (DATASET,)),
    SuiteRun("advisories", "build_rare_classes_suite", "class_counts", WARN),
    SuiteRun("advisories", "build_balance_suite", "splits", WARN),
    SuiteRun("advisories", "build_tiny_boxes_suite", "label_lines", WARN),
    SuiteRun("advisories", "build_cross_split_suite", "groups", WARN),
)


class DatasetInvalid(Exception):
    """The dataset breaks at least one rule; ``report`` holds every failure."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = "\n".join(f"  - {failure}" for failure in report.failures)
        super().__init__(f"{report.uri}: {len(report.failures)} rule(s) failed:\n{lines}")


@dataclass
class ValidationReport:
    """What ``validate_frames`` found; ``as_dict()`` is dataset_info.json's ``expectations``."""

    uri: str
    success: bool
    failures: list[str]
    warnings: list[str]
    statistics: dict[str, Any]
    results: dict[str, Any]
    _context: Any = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """dataset_info.json's ``expectations``: success, failures, warnings, statistics."""
        return {
            "success": self.success,
            "failures": self.failures,
            "warnings": self.warnings,
            "statistics": self.statistics,
        }


@dataclass(frozen=True)
class Thresholds:
    """The configurable limits; ``for_dataset`` lets dataset_info.json raise, never lower."""

    min_train: int = 100
    min_val: int = 50
    min_image_side: int = 32
    imgsz: int = 640
    min_class_instances: int = 10
    max_imbalance_ratio: float = 100.0
    min_background_share: float = 0.0
    max_background_share: float = 0.25
    min_box_px: float = 4.0
    edge_tolerance: float = 1e-6

    def for_dataset(self, info: dict[str, Any] | None) -> Thresholds:
        params = (info or {}).get("parameters") or {}
        raised = {}
        for name in ("min_train", "min_val"):
            declared = params.get(name) if isinstance(params, dict) else None
            if isinstance(declared, int) and declared > getattr(self, name):
                raised[name] = declared
        return Thresholds(**{**self.__dict__, **raised})


def _jsonable(value: Any) -> Any:
    """GX results hold numpy scalars and pandas NA: make them plain JSON values."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        if obj is None or pd.isna(obj):
            return None
        return str(obj)

    def clean(obj: Any) -> Any:
        if isinstance(obj, float) and not math.isfinite(obj):
            return None
        if isinstance(obj, dict):
            return {str(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    try:
        text = json.dumps(value, default=default)
    except (TypeError, ValueError):
        text = json.dumps(value, default=str)
    return clean(json.loads(text))


def _example(entry: dict[str, Any], show: str) -> str:
    where = entry.get("where")
    values = [v for k, v in entry.items() if k != "where"]
    value = ", ".join(str(v) for v in values)
    if show == SHOW_WHERE or (show != SHOW_VALUE and not values):
        return str(where)
    if show == SHOW_VALUE:
        return value
    return f"{where} ({value})"


def _sentence(result: dict[str, Any], params: dict[str, Any]) -> str:
    config = result["expectation_config"]
    meta = config.get("meta") or {}
    rule = meta.get("rule", config["type"])
    message = str(meta.get("message", config["type"])).format(**params)
    info = result.get("exception_info") or {}
    if info.get("raised_exception"):
        return f"{rule}: could not be checked ({info.get('exception_message')})"
    body = result.get("result") or {}
    show = meta.get("show")
    if "unexpected_count" in body:
        examples = [_example(e, show) for e in body.get("partial_unexpected_index_list") or []]
        if show == SHOW_NONE or not examples:
            return f"{rule}: {message}"
        count = body["unexpected_count"]
        shown = "; ".join(examples[:MAX_EXAMPLES])
        noun = meta.get("noun", "rows")
        return f"{rule}: {message} - {count} {noun} fail, e.g. {shown}"
    return f"{rule}: {message} - found {body.get('observed_value')}"


def _parameters(frames: DatasetFrames, limits: Thresholds) -> dict[str, Any]:
    nc = len(frames.names)
    return {
        **limits.__dict__,
        "class_ids": list(range(nc)),
        "max_class_id": nc - 1,
        "edge_min": -limits.edge_tolerance,
        "edge_max": 1 + limits.edge_tolerance,
    }


def _statistics(frames: DatasetFrames, limits: Thresholds) -> dict[str, Any]:
    splits = {}
    for row in frames.splits.itertuples(index=False):
        counts = frames.class_counts[frames.class_counts["split"] == row.split]
        splits[row.split] = {
            "images": int(row.images),
            "instances": int(row.instances),
            "background_images": int(row.background_images),
            "class_instances": dict(
                zip(counts["class_name"], map(int, counts["instances"]), strict=True)
            ),
        }
    totals = frames.class_counts.groupby("class_name", sort=False)["instances"].sum()
    return {
        "splits": splits,
        "class_instances": {str(k): int(v) for k, v in totals.items()},
        "images": len(frames.images),
        "label_lines": len(frames.label_lines),
        "image_sha256_verified": frames.image_sha256_verified,
        "image_bytes_read": frames.bytes_read,
        "thresholds": {
            "min_train": limits.min_train,
            "min_val": limits.min_val,
            "min_image_side": limits.min_image_side,
            "imgsz": limits.imgsz,
        },
    }


def _new_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX sets this module's logger to INFO and logs every ephemeral context's temporary
    # docs folder there: keep that line off users' screens, nothing else
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # not "Created temporary..."
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _run_suites(context: Any, frames: DatasetFrames, params: dict[str, Any]) -> list[tuple]:
    """Run every applicable suite; return (SuiteRun, JSON result) pairs."""
    import importlib

    import great_expectations as gx

    source = context.data_sources.add_pandas("dataset")
    batches: dict[str, Any] = {}
    outcomes = []
    for run in SUITE_RUNS:
        if frames.kind not in run.kinds:
            continue
        if run.frame not in batches:
            asset = source.add_dataframe_asset(run.frame)
            batches[run.frame] = asset.add_batch_definition_whole_dataframe(run.frame)
        build: Callable[[], Any] = getattr(
            importlib.import_module(f"expectations.{run.module}"), run.builder
        )
        suite = context.suites.add(build())
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batches[run.frame], suite=suite)
        )
        # a passing suite needs no examples: BOOLEAN_ONLY is ~40% cheaper on large frames;
        # a failing one runs again for its counts and example rows
        result = definition.run(
            batch_parameters={"dataframe": frames.frame(run.frame)},
            expectation_parameters=params,
            result_format={"result_format": "BOOLEAN_ONLY"},
        )
        if not result.success:
            result = definition.run(
                batch_parameters={"dataframe": frames.frame(run.frame)},
                expectation_parameters=params,
                result_format=_SUMMARY,
            )
        outcomes.append((run, _jsonable(result.to_json_dict())))
    return outcomes


def validate_frames(frames: DatasetFrames, **limits: Any) -> ValidationReport:
    """Run every suite that applies to ``frames`` (a plan or a published dataset).

    Keyword limits are the fields of :class:`Thresholds` (``min_train=100``,
    ``min_val=50``, ``min_image_side=32``, ...); dataset_info.json may raise the minimum
    counts, never lower them. Failures come one sentence each, in suite order.
    """
    thresholds = Thresholds(**limits).for_dataset(frames.info)
    params = _parameters(frames, thresholds)
    context = _new_context()
    failures: list[str] = []
    warnings = list(frames.notes)
    results: dict[str, Any] = {}
    for run, result in _run_suites(context, frames, params):
        results[result["suite_name"]] = result
        for item in result["results"]:
            if not item["success"]:
                (failures if run.severity == FAIL else warnings).append(_sentence(item, params))
    report = ValidationReport(
        uri=frames.uri,
        success=not failures,
        failures=failures,
        warnings=warnings,
        statistics=_statistics(frames, thresholds),
        results=results,
        _context=context,
    )
    log.info("%s: %d failures, %d warnings", frames.uri, len(failures), len(warnings))
    return report


def require_valid(report: ValidationReport) -> ValidationReport:
    """The gate: return the report when it passed, else raise :class:`DatasetInvalid`."""
    if not report.success:
        raise DatasetInvalid(report)
    return report


def write_data_docs(report: ValidationReport, out_dir: str | Path) -> Path:
    """Write GX Data Docs HTML for the report's validation into ``out_dir``; its index."""
    if report._context is None:
        raise ValueError("this report has no GX context (it was loaded, not run)")
    out_dir = Path(out_dir).absolute()
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(out_dir),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    context = report._context
    if DOCS_SITE not in (context.variables.data_docs_sites or {}):
        context.add_data_docs_site(DOCS_SITE, site)
    context.build_data_docs(site_names=[DOCS_SITE])
    return out_dir / "index.html"
