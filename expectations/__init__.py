"""Great Expectations suites: one definition of a valid dataset, for producer and consumer.

frames = frames_from_plan(plan, names, info=info)        # the gate, before publish
frames = frames_from_dataset(uri, store)                 # flows.validate, after
report = validate_frames(frames, min_train=100, min_val=50)
require_valid(report)                                    # raises DatasetInvalid
write_data_docs(report, out_dir)                         # GX Data Docs HTML
"""

from expectations.frames import DatasetFrames, files_digest, frames_from_dataset, frames_from_plan
from expectations.runner import (
    DatasetInvalid,
    Thresholds,
    ValidationReport,
    require_valid,
    validate_frames,
    write_data_docs,
)

__all__ = [
    "DatasetFrames",
    "DatasetInvalid",
    "Thresholds",
    "ValidationReport",
    "files_digest",
    "frames_from_dataset",
    "frames_from_plan",
    "require_valid",
    "validate_frames",
    "write_data_docs",
]
