# The contract: on a fresh machine `make serve` and `make test` are all it takes.
# The servers themselves (SeaweedFS, PostgreSQL, Ceph RGW) are started and stopped by
# scripts/servers.py; here we only make sure their programs are installed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT := DEBIAN_FRONTEND=noninteractive apt-get -y -qq
# Installing Debian packages needs root; CI runs as root and must never skip for lack of one.
AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: venv serve test test-upstream test-ceph lint bench clean postgresql redis ceph chromium oidc

venv: $(STAMP)

# Re-installs when pyproject.toml changes; the stamp says the last install finished.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP) redis
	$(PY) scripts/serve.py

# make serve plus the local OpenID provider (FDO_OIDC_PORT, 8010) with demo people to sign
# in as: oidc/users.json, passwords printed (docs/access.md).
.PHONY: serve-oidc
serve-oidc: $(STAMP) redis oidc
	$(PY) scripts/serve.py --oidc

# A machine may have the PostgreSQL client (psql) without the server: look for `postgres`.
postgresql:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
	|| if [ "$(AS_ROOT)" = yes ] || [ "$$CI" = true ]; then \
		apt-get update -qq && $(APT) install postgresql; \
	else echo "PostgreSQL not installed: its tests will fail (run as root to install)"; fi

# The job queue (repository/job_queue.py): Debian's Redis, started by scripts/servers.py.
redis:
	@test -x /usr/bin/redis-server \
	|| if [ "$(AS_ROOT)" = yes ] || [ "$$CI" = true ]; then \
		apt-get update -qq && $(APT) install --no-install-recommends redis-server; \
	else echo "Redis not installed: the job tests will fail (run as root to install)"; fi

ceph:
	@test -x /usr/bin/radosgw -a -x /usr/bin/ceph-mon -a -x /usr/bin/ceph-osd \
	|| if [ "$(AS_ROOT)" = yes ] || [ "$$CI" = true ]; then \
		apt-get update -qq && $(APT) install --no-install-recommends radosgw ceph-mon ceph-osd; \
	else echo "Ceph not installed: its tests will fail (run as root to install)"; fi

# The landing pages are tested in a real headless browser: Debian's Chromium + ChromeDriver.
chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver \
	|| if [ "$(AS_ROOT)" = yes ] || [ "$$CI" = true ]; then \
		apt-get update -qq && $(APT) install chromium chromium-driver; \
	else echo "Chromium not installed: the browser tests will fail (run as root to install)"; fi

# The local OpenID provider (oidc/provider.mjs, npm's oidc-provider) for the sign-in tests
# and `make serve-oidc`. Needs Node.js 20 or newer (installed, never apt-installed here:
# Debian bookworm's nodejs is 18). npm ci installs exactly the lock, again only when the lock
# is newer than the last install; oidc/.npmrc keeps registry hosts out of the lock.
OIDC_STAMP := oidc/node_modules/.package-lock.json

oidc: $(OIDC_STAMP)

$(OIDC_STAMP): oidc/package-lock.json oidc/package.json
	@major=$$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null); \
	if [ -z "$$major" ]; then echo "make oidc: Node.js 20 or newer is needed (no node on PATH)" >&2; exit 1; fi; \
	if [ "$$major" -lt 20 ]; then echo "make oidc: Node.js 20 or newer is needed (found $$(node --version))" >&2; exit 1; fi
	npm ci --prefix oidc --no-audit --no-fund
	touch $(OIDC_STAMP)

# conftest starts SeaweedFS and PostgreSQL itself, through scripts/servers.py. Reads only
# the repository (tests/data/): FDO_SHARED is cleared, so not even collection looks
# outside it; the upstream material is for test-upstream.
test: $(STAMP) postgresql redis chromium oidc
	FDO_SHARED= $(PY) -m pytest -m 'not ceph and not upstream' -q

# The same checks over all of the upstream material beside the checkout: the only target
# that looks outside the repository (scripts/test-upstream.sh says where and how).
test-upstream: $(STAMP) postgresql redis
	PY=$(PY) bash scripts/test-upstream.sh

# The S3 tests again, against Ceph RGW instead of SeaweedFS (FDO_TEST_S3 tells conftest).
# PostgreSQL was covered by `make test`: here the index is SQLite only, which halves the run.
# The upstream material is left out, so this too passes in a clone with nothing beside it.
# So are the worker-kill and machine-annotation tests: what they ask of S3 (versions, an
# upload written and deleted) is what test_ingest_jobs asks, and they are minutes of
# processes and waits that would push CI past 30 minutes.
test-ceph: $(STAMP) ceph redis oidc
	FDO_TEST_S3=ceph $(PY) -m pytest -m '(ceph or s3) and not upstream' -k 'not postgresql' -q \
		--ignore=tests/test_workers.py --ignore=tests/test_mas.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# The resolver under gunicorn against a baseline app, loaded by wrk (Debian's, C, keep-alive).
.PHONY: bench-resolver wrk
wrk:
	@test -x /usr/bin/wrk \
	|| if [ "$(AS_ROOT)" = yes ] || [ "$$CI" = true ]; then \
		apt-get update -qq && $(APT) install wrk; \
	else echo "wrk is not installed: run as root to install Debian's wrk" >&2; exit 1; fi

# 100,000 specimens, 15-25 minutes; BENCH_OBJECTS=5000 for a quick run.
bench-resolver: $(STAMP) wrk
	$(PY) bench/resolver.py

# Harvesting 100,000 specimens via the change feed and a bulk dump; BENCH_OBJECTS as above.
.PHONY: bench-harvest
bench-harvest: $(STAMP)
	$(PY) bench/harvest.py

# The HTTP API and resolver under make serve's gunicorn options, loaded from another
# process, against raw signed S3 and a bare Flask app; BENCH_API_OBJECTS (1,500) sets the size.
.PHONY: bench-api
bench-api: $(STAMP)
	$(PY) bench/api.py

# Search through the HTTP API at 10,000 and 100,000 specimens (with media and annotations)
# on SQLite and PostgreSQL, and creates with and without the search index; about an hour.
# `.venv/bin/python bench/search.py --sizes 2000,5000 --engines sqlite` for a quick run.
.PHONY: bench-search
bench-search: $(STAMP) postgresql
	$(PY) bench/search.py

# Curators' decisions through the HTTP API against PUT updates of the same change.
.PHONY: bench-curation
bench-curation: $(STAMP)
	$(PY) bench/curation.py

# Ingesting a generated Darwin Core Archive of 10,000 and 100,000 records with `fdo ingest
# dwca`, a re-check, and raw puts; BENCH_SIZES=500,2000 for a quick run.
# An ingest through the job queue and an `fdo worker` against the same ingest in-process;
# BENCH_MACHINES_RECORDS (100,000) sets the size.
.PHONY: bench-machines
bench-machines: $(STAMP) redis
	$(PY) bench/machines.py

.PHONY: bench-ingest
bench-ingest: $(STAMP)
	$(PY) bench/ingest.py
