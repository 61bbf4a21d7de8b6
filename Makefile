# The few commands a contributor needs. Each is also a plain command in README.md.
.PHONY: setup test lint docs bench mutation

setup:
	python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'

test:
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy outeai_cli scripts/gen_docs.py

bench:
	.venv/bin/python benchmarks/run_all.py

mutation:  # not part of `make test`: 20-30 min on 2 cores (see README, "Mutation run")
	.venv/bin/pip install -q -e '.[dev,mutation]'
	.venv/bin/python scripts/mutation.py --report mutation-report.md

docs:
	.venv/bin/python scripts/gen_docs.py .
