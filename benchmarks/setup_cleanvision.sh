#!/usr/bin/env bash
# Baseline for benchmarks/bench_profile.py: cleanvision in its own virtualenv (not a
# project dependency). Idempotent.
set -euo pipefail
VENV=${CLEANVISION_VENV:-/work/benchvenvs/cleanvision}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import cleanvision" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "cleanvision==0.3.7"
fi
"$VENV/bin/python" -c "import cleanvision; print('cleanvision', cleanvision.__version__)"
