#!/usr/bin/env bash
# The peer's environment: TRL in a venv of its own at ${TMPDIR:-/tmp}/rlvr-peer-trl-venv, never a dependency
# of rlvr. Idempotent: a venv whose versions match versions.txt is kept as it is.
# CPU torch comes from the local wheel first (so pip never reaches for a CUDA build); the HF stack is pinned by
# versions.txt so every run resolves the same versions. PEER_TRL_UNPINNED=1 installs the newest versions that
# accept that torch instead and rewrites versions.txt.
# Adapted from the shared peer-TRL set-up (shared/bench/peer-trl/setup.sh, written for this project's machine).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${PEER_TRL_VENV:-${TMPDIR:-/tmp}/rlvr-peer-trl-venv}"
TORCH_WHL="${TORCH_WHL:-$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -1)}"
PY="${PYTHON:-python3.11}"; command -v "$PY" >/dev/null || PY=python3
# the pins, as "name==version" lines, checked against what the venv imports
CHECK="
import importlib.metadata as md, sys
pins = [l.strip().split('==') for l in open('$HERE/versions.txt') if '==' in l]
bad = [f'{n} {md.version(n)} != {v}' for n, v in pins if md.version(n) != v]
sys.exit('; '.join(bad)) if bad else None
import torch, trl, transformers, accelerate, datasets, tokenizers
assert '+cpu' in torch.__version__, torch.__version__
"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$CHECK" 2>/dev/null; then
  echo "[peer-trl setup] venv ok: $VENV" >&2; exit 0
fi
echo "[peer-trl setup] building $VENV" >&2
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
if [ -z "$TORCH_WHL" ]; then
  echo "[peer-trl setup] no CPU torch wheel in /opt/wheels: set TORCH_WHL to one (the pins say $(grep '^torch==' "$HERE/versions.txt"))" >&2
  exit 1
fi
"${PIP[@]}" "$TORCH_WHL"
# a constraint file keeps the torch just installed while the rest resolves
TV="$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
CON="$VENV/peer-trl-constraints.txt"; echo "torch==$TV" > "$CON"
if [ "${PEER_TRL_UNPINNED:-0}" = 1 ]; then
  "${PIP[@]}" -c "$CON" trl transformers accelerate datasets tokenizers
  "$VENV/bin/pip" freeze | grep -iE '^(torch|trl|transformers|accelerate|datasets|tokenizers|huggingface.hub|safetensors|numpy)[=@ ]' \
    | sed "s|^torch @ .*|torch==$TV|" > "$HERE/versions.txt"
else
  grep -v '^torch==' "$HERE/versions.txt" > "$VENV/peer-trl-reqs.txt"  # torch is in already (the wheel)
  "${PIP[@]}" -c "$CON" -r "$VENV/peer-trl-reqs.txt"
fi
"$VENV/bin/python" -c "$CHECK" && echo "[peer-trl setup] done" >&2
