#!/usr/bin/env bash
# The GPU checks, in order of value, for a lent GPU machine (torch, transformers and peft; no vLLM, no Ray).
# Each item has its own time limit so one that hangs cannot cost the rest; everything is also written to
# $OUT/gpu_check.log (the device tool brings $OUT back).   Usage: bash bench/gpu_check.sh
set -u
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} TOKENIZERS_PARALLELISM=false
log="$OUT/gpu_check.log"
item() { local t=$1; shift; echo "=== [$(date +%T)] $* (limit ${t}s)" | tee -a "$log"
         timeout "$t" "$@" 2>&1 | grep -v -E "Loading weights|Writing model shards|it/s\]" | tee -a "$log"
         echo "=== exit ${PIPESTATUS[0]}" | tee -a "$log"; }
item 30 bash -c 'nvidia-smi -L; python -c "import torch, transformers, peft; print(torch.__version__, torch.version.cuda, transformers.__version__, peft.__version__)"'
item 150 python -m pytest -q -p no:cacheprovider -m gpu tests/learner/test_worker_gpu.py
L="python bench/learner_throughput.py --batch 64 --prompt 256 --response 768 --response-min 256 --pack --steps 3"
item 120 $L --size 0.5b --micro 16 --model-dir /tmp/m05 --profile 15
item 150 $L --size 0.5b --micro 16 --model-dir /tmp/m05 --compile
item 150 $L --size 1.5b --micro 8 --model-dir /tmp/m15
item 180 $L --size 1.5b --micro 8 --model-dir /tmp/m15 --compile
item 90 python bench/gpu_sync.py --shape 0.5B --trainers 1 --receivers 1 --syncs 2
item 90 $L --size 0.5b --micro 16 --model-dir /tmp/m05 --lora 8
item 90 $L --size 0.5b --micro 32 --model-dir /tmp/m05 --activation-checkpointing
