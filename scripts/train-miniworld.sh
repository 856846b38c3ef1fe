#!/usr/bin/env bash
# Train (or resume) the miniworld diffusion model in the background-friendly way:
# a retaining allocator (jemalloc) when the machine has one, since first-touch of fresh memory
# is slow on some virtual machines and made training steps 10-20x slower there.
#   scripts/train-miniworld.sh --out runs/miniworld --steps 3000 [--threads 2] [--export DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
JEMALLOC=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1 || true)
if [[ -n "$JEMALLOC" ]]; then
  export LD_PRELOAD="$JEMALLOC" MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1,retain:true"
fi
exec .venv/bin/python -m anypix.models.miniworld.train "$@"
