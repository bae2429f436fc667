"""droneprep's Prefect flows, one module per user-facing job (``python -m flows.<name>``)."""

from flows.cli import quiet_environment

quiet_environment()  # before Prefect reads its settings
