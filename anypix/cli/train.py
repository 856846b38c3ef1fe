"""``anypix train``: train anypix's own models."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer

from anypix.cli.app import app, settings_for
from anypix.errors import UserError
from anypix.models.registry import ModelFamily, families

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


def _family_command(family: ModelFamily) -> Callable[..., None]:
    """``anypix train FAMILY``: one option per field of the family's ``train_options`` dataclass
    (its defaults are the recipe that made the shipped weights), plus --run and --out."""
    assert family.train is not None and family.train_options is not None
    return _options_command(family.name, family.train, family.train_options)


def _options_command(
    name: str, train: Callable[[Path, Path, Any], Path], options_type: type
) -> Callable[..., None]:
    """``anypix train NAME`` built from ``train(run, weights, options)`` and its options dataclass."""
    hints = get_type_hints(options_type)
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter(
            "run_dir", inspect.Parameter.KEYWORD_ONLY, annotation=Path,
            default=typer.Option(Path(f"runs/{name}"), "--run",
                                 help="Folder for checkpoints (resumes from it)."),
        ),
        inspect.Parameter(
            "out", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
            default=typer.Option(None, help=f"Folder for the finished weights "
                                 f"(default: <data dir>/models/{name})."),
        ),
    ]  # fmt: skip
    for option in dataclasses.fields(options_type):
        parameters.append(inspect.Parameter(
            option.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[option.name],
            default=typer.Option(option.default, help=option.metadata.get("help")),
        ))  # fmt: skip

    def command(ctx: typer.Context, run_dir: Path, out: Path | None, **values: Any) -> None:
        weights = out or settings_for(ctx).data_dir / "models" / name
        try:
            train(run_dir, weights, options_type(**values))
        except KeyboardInterrupt:
            raise UserError("training interrupted", f"run it again to resume from {run_dir}") from None
        except ValueError as exc:  # an option the recipe refuses, or a checkpoint that does not fit
            raise UserError(str(exc), "check the options, or use another --run") from None
        env = f"ANYPIX_MODEL_PATHS__{name.upper().replace('-', '_')}"
        sys.stdout.write(f"weights: {weights}\nuse them: {env}={weights}\n")

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = inspect.getdoc(train) or f"Train the {name} models from scratch."
    return command


def _train_planner(run: Path, weights: Path, options: Any) -> Path:
    """Fine-tune SmolLM2-135M on the plan language (a LoRA adapter, CPU); resumes from --run."""
    from anypix.agent.finetune import train_planner

    return train_planner(run, weights, options)


def _planner_command() -> Callable[..., None]:
    from anypix.agent.finetune import PlannerRecipe  # a dataclass module: imports no torch

    return _options_command("planner", _train_planner, PlannerRecipe)


train_app.command("planner")(_planner_command())

for _family in families().values():
    if _family.train is not None and _family.train_options is not None:
        train_app.command(_family.name)(_family_command(_family))
    for _what, (_train, _options) in _family.trainers.items():  # anypix train FAMILY-WHAT
        _name = f"{_family.name}-{_what}"
        train_app.command(_name)(_options_command(_name, _train, _options))
