"""The ``anypix`` app: the one error path, the global options, and what every command uses.

:class:`AnypixGroup` turns every :class:`~anypix.errors.AnypixError` (and every usage error) into
one line on stderr and the error class's exit code (:mod:`anypix.console`); no command picks an
exit code or prints an error itself. Help is printed as plain text, so ``[name]`` stays
``[name]``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer carries its own copy of click since 0.2x
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # older typer uses click itself
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore

from anypix.console import error_line, exit_code, json_text, visible
from anypix.errors import AnypixError, TurnFailed, UserError, VerificationFailed

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.config import Settings
    from anypix.studio import Studio

MAX_TURN = 10**9  # a turn number past this is a typo (and SQLite integers end at 2**63)


class AnypixGroup(TyperGroup):
    """The one place a command's error becomes a line on stderr and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:  # fmt: skip
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except TurnFailed as exc:
            if not isinstance(exc.cause, AnypixError | KeyboardInterrupt):
                raise exc.cause from None  # a bug in anypix: keep its traceback
            if isinstance(exc.cause, VerificationFailed):  # its image is kept with the turn
                seq = exc.turn.summary.seq
                exc = TurnFailed(exc.turn, VerificationFailed.kept(exc.cause, f"anypix branch {seq}"))
            _fail(error_line(exc), exit_code(exc))
        except AnypixError as exc:
            _fail(error_line(exc), exit_code(exc))
        except (typer.Abort, KeyboardInterrupt):
            _fail("interrupted", 130)
        except NoArgsIsHelpError as exc:
            exc.show()  # the help, as asked for by giving no arguments
            sys.exit(0)
        except ClickException as exc:
            where = exc.ctx.command_path if isinstance(exc, UsageError) and exc.ctx else ""
            hint = f" (see {where} --help)" if where else ""
            _fail(f"error: {visible(exc.format_message(), newlines=False)}{hint}", exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(line: str, code: int) -> None:
    sys.stderr.write(line + "\n")
    sys.exit(code)


app = typer.Typer(
    name="anypix",
    cls=AnypixGroup,
    help="A local, agentic, multimodal image-editing assistant.\n\n"
    'Example: anypix edit --asset photo=photo.png --asset dog=dog.png "add [dog] to [photo] on '
    'the left"',
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: Rich markup would eat [name]
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _quiet_libraries() -> None:
    """Library warnings a person cannot act on stay off the terminal (transformers asking for
    torchvision, which must stay uninstalled here; deprecations inside diffusers...)."""
    import logging
    import os

    for variable in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        os.environ.setdefault(variable, "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for library in ("transformers", "diffusers", "torch", "huggingface_hub", "accelerate"):
        logging.getLogger(library).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=rf"{library}(\.|$)")


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where sessions and assets live (default: the user data dir)."
        ),
    ] = None,
) -> None:
    _quiet_libraries()
    ctx.obj = {"data_dir": data_dir}


def _overrides(ctx: typer.Context, **overrides: Any) -> dict[str, Any]:
    return {"data_dir": (ctx.obj or {}).get("data_dir"), **overrides}


def settings_for(ctx: typer.Context, **overrides: Any) -> Settings:
    from anypix.config import load_settings

    return load_settings(**_overrides(ctx, **overrides))


def open_studio(ctx: typer.Context, **overrides: Any) -> Studio:
    """The studio the settings, ``--data-dir`` and a command's ``overrides`` describe."""
    from anypix.studio import Studio

    return Studio.from_settings(**_overrides(ctx, **overrides))


def print_json(value: object) -> None:
    sys.stdout.write(json_text(value) + "\n")


def talk_console(quiet: bool = False) -> Console:
    """Where a command talks to the person while it works: stderr (stdout holds results)."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, highlight=False)


def instruction_text(text: str) -> str:
    from anypix.errors import EmptyInstructionError

    if not text.strip():
        raise EmptyInstructionError()
    return text.strip()


def image_model(model: str | None) -> str | None:
    """``--model``, checked against the image-model presets (not the LLM or encoder ones)."""
    if model is None:
        return None
    from anypix.models.registry import presets

    names = [p.name for p in presets().values() if p.kind == "diffusion"]
    if model not in names:
        raise UserError(f"{model!r} is not an image-model preset", f"choose one of "
                        f"{', '.join(names)} (anypix models lists them)")  # fmt: skip
    return model
