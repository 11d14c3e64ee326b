#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is missing, then lint,
# type check and run every test against a real PostGIS and Nominatim. Extra arguments go
# to pytest. With CI=true a missing component fails the run instead of skipping tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/ruff check geotool tests benchmarks
.venv/bin/mypy
.venv/bin/lint-imports  # the layer contracts of pyproject.toml [tool.importlinter]
exec .venv/bin/pytest -q "$@"
