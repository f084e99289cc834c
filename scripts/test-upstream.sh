#!/usr/bin/env bash
# `make test-upstream`: the `upstream`-marked checks over all of the upstream material,
# every openDS schema and example and every sample dataset in the shared folder beside the
# checkout (FDO_SHARED to put it elsewhere). Fails when that folder is missing; runs
# nothing `make test` runs. The only command that looks outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${FDO_SHARED:-../shared}"
if [ ! -d "$folder" ]; then
  echo "make test-upstream: no upstream material at $folder" \
       "(put the shared folder beside the checkout or set FDO_SHARED)" >&2
  exit 1
fi
FDO_SHARED="$(cd "$folder" && pwd)" exec "${PY:-.venv/bin/python}" -m pytest \
  -m 'upstream and not ceph' -q
