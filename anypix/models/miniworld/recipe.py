"""The whole miniworld recipe, from nothing to shippable weights (``anypix train miniworld``).

1. the binding encoder (image, text through MiniLM, audio) and its refinement prior,
2. the blob-grounded diffusion UNet and its text encoder, whose subject tokens read that
   binding space,
3. v2: the same UNet trained on, with a fresh schedule, on scenes where one object in four is
   taken out and its blob kept, saying "background" (the empty region remove and move paint),
4. v3: trained on from v2 with each blob's conditioning region the silhouette of the shape its
   words name ("a red triangle": the triangle the world draws in that blob), not the ellipse,
   so the model fills the shape it is asked for (``MiniworldConfig.paint_shapes``): 1,500
   steps at the v2 stage's rate, then 1,000 more at 3e-4, as the shipped v3 was trained,
5. export: fp16 safetensors of both into one weights directory.

Every stage resumes from its checkpoint under ``run``; a finished stage is skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Log = Callable[[str], None]
BINDING_FILES = ("binding.safetensors", "binding.json", "prior.pt")


@dataclass
class Recipe:
    """The options of ``anypix train miniworld``; each field's ``help`` is its --flag's help."""

    binding_steps: int = field(default=1800, metadata={"help": "Binding encoder steps."})
    binding_batch: int = field(default=64, metadata={"help": "Scenes per binding encoder step."})
    prior_steps: int = field(default=2000, metadata={"help": "Refinement prior steps."})
    # The shipped weights were trained this long (MODEL_CARD.md).
    unet_steps: int = field(default=2700, metadata={"help": "Diffusion UNet steps."})
    unet_batch: int = field(default=32, metadata={"help": "Scenes per UNet step."})
    refine_steps: int = field(
        default=1600, metadata={"help": "Steps of the v2 stage (0 stops after the first UNet)."}
    )
    refine_lr: float = field(default=4e-4, metadata={"help": "Peak learning rate of the v2 stage."})
    shape_steps: int = field(
        default=1500, metadata={"help": "Steps of the v3 (silhouette) stage; 0 ships v2."}
    )
    shape_refine_steps: int = field(
        default=1000, metadata={"help": "Steps of the v3 stage's second run (peak rate 3e-4)."}
    )
    empty_regions: float = field(
        default=0.25, metadata={"help": "Share of v2 scenes with one object's blob left empty."}
    )
    threads: int = field(default=0, metadata={"help": "CPU threads (0: torch's default)."})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda..."})
    seed: int = field(default=0, metadata={"help": "Seed for every stage's data and weights."})


def train_miniworld(run: Path, weights: Path, recipe: Recipe, log: Log = print) -> Path:
    """Train every stage into ``run`` and write the shippable weights into ``weights``."""
    import torch

    from anypix.models.miniworld.binding import load_binding
    from anypix.models.miniworld.model import MiniworldConfig
    from anypix.models.miniworld.train import TrainOptions, export, train
    from anypix.models.miniworld.train_binding import train_binding, train_miniworld_prior

    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    binding_dir = run / "binding"
    if not (binding_dir / "binding.safetensors").exists() or _unfinished(binding_dir, recipe):
        log(f"1/5 binding encoder: {recipe.binding_steps} steps -> {binding_dir}")
        train_binding(binding_dir, steps=recipe.binding_steps, batch=recipe.binding_batch,
                      seed=recipe.seed, progress=_every(log, 100), device=recipe.device)  # fmt: skip
    if not (binding_dir / "prior.pt").exists():
        log(f"1/5 refinement prior: {recipe.prior_steps} steps")
        train_miniworld_prior(binding_dir, steps=recipe.prior_steps, seed=recipe.seed, log=log,
                              device=recipe.device)  # fmt: skip
    options = TrainOptions(steps=recipe.unet_steps, batch=recipe.unet_batch, seed=recipe.seed,
                           threads=recipe.threads, device=recipe.device)  # fmt: skip
    log(f"2/5 diffusion UNet: {recipe.unet_steps} steps -> {run / 'unet'}")

    def progress(step: int, total: int, entry: dict[str, Any]) -> None:
        log(f"  step {step}/{total} " + " ".join(f"{k}={_short(v)}" for k, v in entry.items()))

    binding = load_binding(binding_dir)
    train(run / "unet", options, progress=progress, binding=binding)
    last = run / "unet"
    if recipe.refine_steps:
        first = export(run / "unet", run / "unet-v1")
        options = TrainOptions(steps=recipe.refine_steps, batch=recipe.unet_batch,
                               seed=recipe.seed + 1, lr=recipe.refine_lr,
                               empty_regions=recipe.empty_regions, init=first,
                               threads=recipe.threads, device=recipe.device)  # fmt: skip
        log(f"3/5 v2 stage: {recipe.refine_steps} steps -> {run / 'unet-v2'}")
        train(run / "unet-v2", options, progress=progress, binding=binding)
        last = run / "unet-v2"
    # v3: two runs conditioned on silhouettes, each from the weights of the run before it
    v3_runs = [(recipe.shape_steps, recipe.refine_lr, "unet-v3"),
               (recipe.shape_refine_steps, 3e-4, "unet-v3b")]  # fmt: skip
    for index, (steps, lr, name) in enumerate(v3_runs if recipe.refine_steps else []):
        if not steps:
            break
        start = export(last, run / f"{last.name}-weights")
        options = TrainOptions(steps=steps, batch=recipe.unet_batch, seed=recipe.seed + 2 + index,
                               lr=lr, empty_regions=recipe.empty_regions, init=start,
                               threads=recipe.threads, device=recipe.device,
                               config=MiniworldConfig(paint_shapes=True))  # fmt: skip
        log(f"4/5 v3 stage (silhouettes), run {index + 1}: {steps} steps -> {run / name}")
        train(run / name, options, progress=progress, binding=binding)
        last = run / name
    log(f"5/5 export -> {weights}")
    export(last, weights)
    for name in BINDING_FILES:
        shutil.copy2(binding_dir / name, weights / name)
    return weights


def _unfinished(binding_dir: Path, recipe: Recipe) -> bool:
    import torch

    checkpoint = binding_dir / "checkpoint.pt"
    if not checkpoint.exists():
        return True
    return int(torch.load(checkpoint, weights_only=False).get("step", 0)) < recipe.binding_steps


def _every(log: Log, n: int) -> Callable[..., None]:
    def report(step: int, total: int, entry: dict[str, Any] | None = None) -> None:
        if step % n == 0 or step == total:
            log(
                f"  step {step}/{total} "
                + " ".join(f"{k}={_short(v)}" for k, v in (entry or {}).items())
            )

    return report


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
