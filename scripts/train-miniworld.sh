#!/usr/bin/env bash
# Train (or resume) the miniworld diffusion UNet alone, logging one JSON line per 50 steps:
#   scripts/train-miniworld.sh --out runs/miniworld/unet --steps 2700 --threads 1 [--export DIR]
# (`anypix train miniworld` runs the whole recipe: binding encoder, prior, UNet, export.)
# ANYPIX_JEMALLOC=1 preloads jemalloc with retention, which MEASUREMENTS.md found to stop random
# 10-20x slow steps on some VMs; on the machine that trained the shipped weights it made the
# process grow to 14 GB within minutes, so it is off by default.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${ANYPIX_JEMALLOC:-0}" == "1" ]]; then
  JEMALLOC=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1 || true)
  if [[ -n "$JEMALLOC" ]]; then
    export LD_PRELOAD="$JEMALLOC" MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1,retain:true"
  fi
fi
exec .venv/bin/python -m anypix.models.miniworld.train "$@"
