#!/usr/bin/env bash
# The README's first command: install what is missing, then run the whole pipeline on the
# built-in synthetic planet (`geotool demo`; extra arguments are passed on to it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/geotool demo "$@"
