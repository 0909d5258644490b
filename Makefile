# The two set-up commands of README.md; the work is done by .ci/dev.py (standard library only).
PYTHON ?= python3

.PHONY: run test
run:
	$(PYTHON) .ci/dev.py run

test:
	$(PYTHON) .ci/dev.py test $(ARGS)
