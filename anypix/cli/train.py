"""``anypix train``: train anypix's own models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from anypix.cli.app import app, settings_for
from anypix.errors import UserError

train_app = typer.Typer(
    help="Train anypix's own models (CPU works; a GPU is faster).", no_args_is_help=True
)
app.add_typer(train_app, name="train")


@train_app.command("prior")
def train_prior_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for prior.pt (default: <data dir>/prior/synthetic-DIM)."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Pairs .npz (source, modality, score, target); default: synthetic pairs."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Total optimiser steps.")] = 3000,
    batch: Annotated[int, typer.Option(min=1)] = 256,
    lr: Annotated[float, typer.Option(min=0)] = 5e-4,
    dim: Annotated[
        int, typer.Option(min=2, help="Embedding size (MiniLM 384, ImageBind 1024).")
    ] = 384,
    width: Annotated[int, typer.Option(min=8)] = 256,
    layers: Annotated[int, typer.Option(min=1)] = 4,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda...")] = "auto",
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore an existing checkpoint.")] = False,
) -> None:
    """Train the refinement prior (text/audio embedding + score -> image embedding); resumes."""
    from anypix.models.prior import PriorConfig
    from anypix.models.prior_training import TrainPriorConfig, train_prior

    if data is not None and not data.exists():
        raise UserError(f"{data} does not exist", "give a .npz of pairs or leave --data out")
    folder = out or settings_for(ctx).data_dir / "prior" / f"synthetic-{dim}"
    config = TrainPriorConfig(
        steps=steps,
        batch=batch,
        lr=lr,
        data=str(data) if data else None,
        device=device,
        checkpoint_every=max(1, min(500, steps // 4)),
    )
    heads = 4 if width % 4 == 0 else 1
    prior_config = PriorConfig(dim=dim, width=width, layers=layers, heads=heads)
    try:
        trained = train_prior(folder, config, prior_config, resume=not fresh, log=print)
    except ValueError as exc:  # a checkpoint or data file that does not fit this config
        raise UserError(str(exc), "use --fresh or another --out") from None
    sys.stdout.write(
        f"held-out L2 to the clean embedding: prior {trained.prior_l2:.4f}, "
        f"identity {trained.identity_l2:.4f}\ncheckpoint: {trained.checkpoint}\n"
    )


@train_app.command("miniworld")
def train_miniworld_command(
    ctx: typer.Context,
    run_dir: Annotated[
        Path, typer.Option("--run", help="Folder for checkpoints (resumes from it).")
    ] = Path("runs/miniworld"),
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the finished weights (default: <data dir>/models/miniworld)."
        ),
    ] = None,
    unet_steps: Annotated[int, typer.Option(min=1, help="Diffusion UNet steps.")] = 2700,
    binding_steps: Annotated[int, typer.Option(min=1, help="Binding encoder steps.")] = 1800,
    prior_steps: Annotated[int, typer.Option(min=1, help="Refinement prior steps.")] = 2000,
    batch: Annotated[int, typer.Option(min=1, help="Scenes per UNet step.")] = 32,
    threads: Annotated[int, typer.Option(min=0, help="CPU threads (0: torch's default).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda...")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for every stage's data and initial weights.")] = 0,
) -> None:
    """Train the miniworld models from scratch: binding encoder + prior, then the diffusion UNet.

    Every stage resumes from its checkpoint under --run (Ctrl-C saves one). When done, point
    anypix at the weights: ANYPIX_MODEL_PATHS__MINIWORLD=<out>. On CPU the recipe that made the
    shipped weights took about 1.5 hours on one CPU thread.
    """
    from anypix.models.miniworld.recipe import Recipe, train_miniworld

    weights = out or settings_for(ctx).data_dir / "models" / "miniworld"
    recipe = Recipe(binding_steps=binding_steps, prior_steps=prior_steps, unet_steps=unet_steps,
                    unet_batch=batch, threads=threads, device=device, seed=seed)  # fmt: skip
    try:
        train_miniworld(run_dir, weights, recipe)
    except KeyboardInterrupt:
        raise UserError("training interrupted", f"run it again to resume from {run_dir}") from None
    sys.stdout.write(f"weights: {weights}\nuse them: ANYPIX_MODEL_PATHS__MINIWORLD={weights}\n")
