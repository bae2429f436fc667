"""Deployment entry points that need more than a flow function (see prefect.yaml).

``prepare_on_dask`` is ``flows.prepare.prepare`` with prefect-dask's task runner: a
``LocalCluster`` in the flow-run process, or the scheduler named by the worker's
``DRONEPREP_DASK_ADDRESS`` (``tcp://host:8786``). Only a worker loads this module.
"""

from __future__ import annotations

import os

from flows.prepare import prepare
from tasks.runners import make_task_runner

prepare_on_dask = prepare.with_options(
    task_runner=make_task_runner("dask", os.environ.get("DRONEPREP_DASK_ADDRESS") or None)
)
