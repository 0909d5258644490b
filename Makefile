# The two set-up commands of README.md (run, test), and lint (ruff and mypy only); the work is
# done by .ci/dev.py (standard library only).
PYTHON ?= python3

.PHONY: run test lint
run:
	$(PYTHON) .ci/dev.py run

test:
	$(PYTHON) .ci/dev.py test $(ARGS)

lint:
	$(PYTHON) .ci/dev.py lint
