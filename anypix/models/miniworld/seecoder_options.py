"""The options of ``anypix train miniworld-seecoder`` (:mod:`anypix.models.miniworld.seecoder`),
apart from the model code so that registering the family imports no torch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SeeCoderOptions:
    """The options of ``anypix train miniworld-seecoder``; each field's ``help`` is its flag's."""

    steps: int = field(default=3000, metadata={"help": "Optimiser steps (the time budget may stop it sooner)."})  # fmt: skip
    minutes: float = field(default=25.0, metadata={"help": "Wall-clock budget of this run, minutes (0: none)."})  # fmt: skip
    batch: int = field(default=32, metadata={"help": "Scenes per step."})
    lr: float = field(default=2e-3, metadata={"help": "Peak learning rate (AdamW)."})
    warmup: int = field(default=50, metadata={"help": "Warm-up steps."})
    checkpoint_every: int = field(default=100, metadata={"help": "Steps between checkpoints."})
    threads: int = field(default=1, metadata={"help": "CPU threads (0: torch's default)."})
    seed: int = field(default=0, metadata={"help": "Seed for data and weights."})
