"""The refinement prior's effect on reference and audio adds (``fidelity.py --only prior``).

Each held-out scene gets one object added in a new blob, two ways, as the planner writes them:

* "add [ref] to [scene] <where>": ``[ref]`` is a picture of the object alone on a plain
  background (the demo's kind of reference);
* "add [tone] to [scene] <where>": ``[tone]`` is a sound whose pitch encodes the colour and whose
  timbre encodes the shape (:func:`~anypix.models.miniworld.data.tone`).

The blob and the op name the reference, not its content, so what is drawn can only come from the
reference. Each is rendered with the prior (the model's measured ``prior_mix``, else the
reference's 0 / 0.4 / 1) and without it (``mix_prior=0 mix_base=0``: the references' own
tokens), from the same seed. An add succeeds when the blob's dominant colour is the object's and
its shape is classified as the object's shape. ``prior_gain`` is the success rate with the prior
minus without, in points, over both kinds of add; the ceiling is the ground-truth composite.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anypix.models.miniworld.data import MiniObject, Scene, Style, random_scene, tone, write_wav
from anypix.models.miniworld.data import render as draw_scene
from anypix.plan import Blob, EditPlan, Op

if TYPE_CHECKING:
    from benchmarks.fidelity import Bench, Figures

SIDE = 64
WITHOUT = {"mix_prior": 0.0, "mix_base": 0.0, "mix_gen": 1.0}
KINDS = ("ref", "audio")


def prior_mix(bench: Bench) -> dict[str, float]:
    """The mix the render uses by default for references on this model (the reference's if the
    model has none measured)."""
    from anypix.models.registry import capabilities
    from anypix.tools.refine import REFERENCE_MIX

    return dict(capabilities(bench.components.preset).prior_mix or REFERENCE_MIX)


def reference_image(obj: MiniObject) -> np.ndarray:
    """The object alone, centred, on a plain background (as the demo's [ref])."""
    centred = obj.blob.model_copy(update={"cx": 0.5, "cy": 0.5})
    alone = MiniObject(obj.colour, obj.shape, obj.size, centred)
    return draw_scene(Scene(0, Style("mono", "flat"), (alone,)), SIDE)[0]


def add_plan(bench: Bench, seed: int, added: MiniObject, name: str,
             mix: Mapping[str, float]) -> EditPlan:  # fmt: skip
    blob = Blob(**{**added.blob.model_dump(), "description": name, "label": name})
    knobs = bench.knobs(seed).model_copy(update=dict(mix))
    return EditPlan(base="scene", subs=[name], gen=f"with {name}", blobs=[blob], knobs=knobs,
                    ops=[Op(op="add", target=name, ref=name)])  # fmt: skip


def added_right(image: np.ndarray, added: MiniObject) -> tuple[bool, bool]:
    """(colour right, colour and shape right) for the added object in its blob."""
    from anypix.models.miniworld.metrics import classify_shape, dominant_colour

    colour = dominant_colour(image, added.blob.mask(SIDE, SIDE)) == added.colour
    return colour, colour and classify_shape(image, added) == added.shape


def prior_figures(
    bench: Bench, seeds: Sequence[int], mixes: Mapping[str, Mapping[str, float]] | None = None
) -> tuple[Figures, Figures]:
    """Figures with the model's default mix and without the prior; ``mixes`` (name -> mix,
    "without" among them) compares others, as choosing the default did."""
    from PIL import Image

    from benchmarks.fidelity import Progress, new_object

    variants = dict(mixes or {"with": prior_mix(bench), "without": WITHOUT})
    found: dict[str, list[bool]] = {f"{what}_{kind}_{v}": [] for what in ("colour", "success")
                                    for kind in KINDS for v in (*variants, "gt")}  # fmt: skip
    progress = Progress("prior", len(seeds))
    with tempfile.TemporaryDirectory(prefix="anypix-prior-") as folder:
        for seed in seeds:
            scene = random_scene(seed, max_objects=2)
            added = new_object(scene, np.random.default_rng(seed + 1))
            sound = Path(folder) / f"tone-{seed}.wav"
            write_wav(str(sound), tone(added.colour, added.shape, seed=seed))
            assets: dict[str, Any] = {
                "scene": Image.fromarray(draw_scene(scene, SIDE)[0]),
                "ref": Image.fromarray(reference_image(added)), "tone": sound,
            }  # fmt: skip
            truth = draw_scene(Scene(seed, scene.style, (*scene.objects, added)), SIDE)[0]
            for kind, name in zip(KINDS, ("ref", "tone"), strict=True):
                images = {v: bench.draw(add_plan(bench, seed, added, name, m), assets)
                          for v, m in variants.items()}  # fmt: skip
                for variant, image in {**images, "gt": truth}.items():
                    colour, success = added_right(image, added)
                    found[f"colour_{kind}_{variant}"].append(colour)
                    found[f"success_{kind}_{variant}"].append(success)
            progress.step()
    rate = {key: float(np.mean(values)) for key, values in found.items()}
    model: Figures = {"prior_mix": variants.get("with")}
    for kind in KINDS:
        for variant in variants:
            model[f"prior_{kind}_success_{variant}"] = rate[f"success_{kind}_{variant}"]
            model[f"prior_{kind}_colour_{variant}"] = rate[f"colour_{kind}_{variant}"]
            if variant != "without":
                model[f"prior_gain_{kind}" + ("" if variant == "with" else f"_{variant}")] = (
                    100 * (rate[f"success_{kind}_{variant}"] - rate[f"success_{kind}_without"]))
    if "with" in variants:
        model["prior_gain"] = float(np.mean([model[f"prior_gain_{kind}"] for kind in KINDS]))
    truth_figures = {f"prior_{kind}_success_{v}": rate[f"success_{kind}_gt"]
                     for kind in KINDS for v in variants}  # fmt: skip
    return model, truth_figures
