# The README's two commands: `make demo` (the main job end to end on the synthetic planet)
# and `make test` (lint, type check, tests). Each installs what it needs first.
.PHONY: demo test bootstrap lint typecheck pytest bench

bootstrap:
	./scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/geotool demo

lint: bootstrap
	.venv/bin/ruff check geotool tests benchmarks

typecheck: bootstrap
	.venv/bin/mypy

pytest: bootstrap
	.venv/bin/pytest -q

test: bootstrap
	.venv/bin/ruff check geotool tests benchmarks
	.venv/bin/mypy
	.venv/bin/pytest -q

bench: bootstrap
	for b in benchmarks/bench_*.py; do .venv/bin/python $$b || exit 1; done
