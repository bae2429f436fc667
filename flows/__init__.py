"""droneprep's Prefect flows, one module per user-facing job (``python -m flows.<name>``)."""
