"""droneprep stages: plain functions over tables and bytes, with thin Prefect task wrappers."""
