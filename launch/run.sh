#!/usr/bin/env bash
# Bootstraps .venv if missing, then runs `python -m w2v2jax.cli "$@"` inside it.
#   launch/run.sh train --config=w2v2jax/configs/ctc.py:tiny --workdir=runs/x
# EXTRAS selects pip extras ("" for runtime only; "tpu" adds jax[tpu]; "cuda" adds jax[cuda12]).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e "$root"
  case "${EXTRAS:-}" in
    tpu) "$venv/bin/pip" install -q "jax[tpu]" ;;
    cuda) "$venv/bin/pip" install -q "jax[cuda12]" ;;
  esac
fi
cd "$root"
exec "$venv/bin/python" -m w2v2jax.cli "$@"
