# Shortcuts for the README's two commands (scripts/demo.sh, scripts/test.sh), which need
# nothing but bash; each installs what it needs first.
.PHONY: demo test bootstrap bench

bootstrap:
	./scripts/bootstrap.sh

demo:
	./scripts/demo.sh

test:
	./scripts/test.sh

bench: bootstrap
	for b in benchmarks/bench_*.py; do .venv/bin/python -m benchmarks.$$(basename $$b .py) || exit 1; done
