# The two commands of the quick start: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Root (or CI) may install the Debian servers the tests need.
CAN_INSTALL := $(shell [ "$$(id -u)" = 0 ] || [ "$$CI" = true ] && echo yes)

.PHONY: serve test test-ceph lint bench clean postgresql ceph

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(PY) scripts/serve.py

postgresql:
ifeq ($(CAN_INSTALL),yes)
	test -d /usr/lib/postgresql || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)
endif

ceph:
ifeq ($(CAN_INSTALL),yes)
	command -v radosgw >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd)
endif

test: $(STAMP) postgresql
	$(PY) -m pytest -m 'not ceph' -q

test-ceph: $(STAMP) ceph
	FDO_TEST_S3=ceph $(PY) -m pytest -m 's3 or ceph' -q -k 'not postgresql'

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache bench/results
