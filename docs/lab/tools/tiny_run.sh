#!/bin/bash
# usage: tiny_run.sh REV DIR  -- runs the tests' tiny study (2 seeds) at REV through Snakemake, hashes its outputs
set -e
REPO=${REPO:-$(git rev-parse --show-toplevel)}; VENV=${VENV:-$REPO/.venv/bin}
REV=$1; DIR=$2
rm -rf $DIR; git clone -q "$REPO" $DIR; cd $DIR; git checkout -q $REV
$VENV/python - <<'PY'
import sys; sys.path.insert(0, "tests")
from conftest import tiny_study, write_params
from pathlib import Path
write_params(Path("params.yaml"), {**tiny_study(), "seeds": [0, 1]})
PY
export PATH=$VENV:$PATH TASKHEAD_SKIP_DVC_COMMIT=1 TASKHEAD_THREADS=1
snakemake --cores 2 --quiet all > snake.log 2>&1 || { tail -30 snake.log; exit 1; }
find results runs -type f ! -path "results/code/*" ! -name "*.log" | sort | xargs sha256sum > ../$(basename $DIR).sha256
wc -l ../$(basename $DIR).sha256
