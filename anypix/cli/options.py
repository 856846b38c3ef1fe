"""Options several commands share: attachments, backends, sessions and the knob flags, whose
help and ranges come from :class:`anypix.knobs.EditOptions`."""

from __future__ import annotations

from typing import Annotated

import typer

from anypix.knobs import MAX_ATTEMPTS, MAX_VARIATIONS, SIDE_RANGE, EditOptions, knob_range

AssetOption = Annotated[
    list[str] | None,
    typer.Option("--asset", "-a", metavar="NAME=PATH",
                 help="Attach a file under a name the instruction refers to as [NAME]. Repeatable."),
]  # fmt: skip
LlmOption = Annotated[
    str | None,
    typer.Option("--llm", help="Planner backend: auto (fast path, then SmolLM2), fast (grammar "
                 "only), smollm2, openai (ANYPIX_LLM_BASE_URL / ANYPIX_LLM_MODEL), fake."),
]  # fmt: skip
ModelOption = Annotated[
    str | None, typer.Option("--model", help="Image-model preset (anypix models lists them).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SessionOption = Annotated[
    str | None,
    typer.Option("--session", "-s", help="Session id, id prefix or name (default: the most "
                 "recent)."),
]  # fmt: skip


def _described(name: str, extra: str = "") -> str:
    info = EditOptions.model_fields[name]
    return f"{(info.description or '').capitalize()}{extra}."


def _span(name: str) -> str:
    low, high = knob_range(name)
    return f" ({low} to {high})"


SeedOption = Annotated[int | None, typer.Option("--seed", help=_described("seed", _span("seed")))]
StepsOption = Annotated[
    int | None, typer.Option("--steps", help=_described("steps", _span("steps")))
]
GuidanceOption = Annotated[
    float | None, typer.Option("--guidance", help=_described("guidance", _span("guidance")))
]
StrengthOption = Annotated[
    float | None, typer.Option("--strength", help=_described("strength", " (0 to 1)"))
]
SizeOption = Annotated[
    str | None,
    typer.Option("--size", metavar="WxH",
                 help=_described("size", f" ({SIDE_RANGE[0]} to {SIDE_RANGE[1]} a side)")),
]  # fmt: skip
NegativeOption = Annotated[str | None, typer.Option("--negative", help=_described("negative"))]
VariationsOption = Annotated[
    int | None,
    typer.Option("--variations", "-n", help=_described("variations", f" (1 to {MAX_VARIATIONS})")),
]  # fmt: skip
VerifyOption = Annotated[
    bool,
    typer.Option("--verify/--no-verify",
                 help="Check each output with the model's perception and correct it (default); "
                 "--no-verify keeps it as drawn, unchecked."),
]  # fmt: skip
AttemptsOption = Annotated[
    int | None,
    typer.Option("--attempts", help=_described("attempts", f" (1 to {MAX_ATTEMPTS})")),
]  # fmt: skip
