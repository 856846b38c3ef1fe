"""The miniworld model family: anypix's own small models, trained on a procedural world.

This module registers the family (:data:`FAMILY`, listed in
:data:`anypix.models.registry.FAMILY_MODULES`): the ``miniworld`` diffusion preset and what it can
do, the ``miniworld`` binding encoder, the refinement prior shipped with it, its sample scenes
and its training recipe. The weights ship in ``weights/`` (or come from
``model_paths.miniworld``, a directory written by :func:`anypix.models.miniworld.train.export`).
Every callable imports its module on first use, so registering imports no torch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.models.miniworld.loader import DEFAULT_GUIDANCE, DEFAULT_STEPS
from anypix.models.miniworld.recipe import Recipe
from anypix.models.miniworld.seecoder_options import SeeCoderOptions
from anypix.models.registry import Capabilities, ModelFamily, Preset

if TYPE_CHECKING:
    import torch

    from anypix.config import Settings
    from anypix.models.diffusion import Components
    from anypix.models.encoders import Encoder
    from anypix.models.perception import Perception
    from anypix.models.prior import RefinementPrior

BINDING_ID_PREFIX = "miniworld-binding-"
# The refinement prior's mix for "add [ref]" / "add [tone]" plans that set none; chosen on
# validation scenes with benchmarks/figures_prior.py (docs/prior-and-seecoder.md).
PRIOR_MIX = {"mix_base": 0.0, "mix_gen": 0.4, "mix_prior": 1.0, "mix_norm": 0.0}
# Shape guidance's default step size (tools/shape_guidance.py): off. At 3 it draws more of the
# asked shapes but loses blob IoU and count accuracy (docs/shape-guidance.md); a plan asks for it
# with [knobs] shape_guidance=3.
SHAPE_GUIDANCE: float | None = None


def load_components(
    *, settings: Settings | None = None, device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Components:  # fmt: skip
    from anypix.models.miniworld.loader import load_miniworld

    return load_miniworld(settings=settings, device=device, dtype=dtype)


def load_encoder(settings: Settings) -> Encoder:
    from anypix.models.miniworld.binding import load_encoder as load_binding_encoder

    return load_binding_encoder(settings)


def prior_for(encoder_id: str) -> RefinementPrior | None:
    """The prior trained with the shipped binding encoder (None for other encoders)."""
    if not encoder_id.startswith(BINDING_ID_PREFIX):
        return None
    from anypix.models.miniworld.binding import load_miniworld_prior

    return load_miniworld_prior()


def locator_words(phrase: str) -> str:
    """A phrase in the binding encoder's words: synonyms back to its shapes, one article."""
    from anypix.models.miniworld.words import SYNONYMS

    canonical = {alt: word for word, alts in SYNONYMS.items() for alt in alts}
    words = [canonical.get(w.lower(), w.lower()) for w in re.sub(
        r"^(?:the|a|an|this|that)\s+", "", phrase, flags=re.IGNORECASE).split()]  # fmt: skip
    return "a " + " ".join(words)


def blob_words(sentences: list[str], seed: int, base: Any) -> list[str]:
    """A colour for each blob that names none (:func:`~anypix.models.miniworld.words.coloured`),
    not one the objects of the [base] (a PIL image, or None) have while another is left."""
    from anypix.models.miniworld.words import coloured, colourless

    shown: set[str] = set()
    if base is not None and any(map(colourless, sentences)):
        import numpy as np

        from anypix.models.masks import candidate_regions
        from anypix.models.miniworld.metrics import dominant_colour

        pixels = np.asarray(base.convert("RGB").resize((64, 64)))
        shown = {c for r in candidate_regions(pixels) if (c := dominant_colour(pixels, r))}
    return coloured(sentences, seed, shown)


def load_shape_critic() -> Any:
    """The shape classifier shape guidance reads (``weights/shape_classifier.*``), loaded once."""
    from anypix.models.miniworld.shape_classifier import shipped_critic

    return shipped_critic()


def load_verifier(settings: Settings | None) -> Perception:
    """What the agent checks its edits with: the binding encoder over the image's regions."""
    from anypix.models.miniworld.perceive import load_perception

    return load_perception(settings)


def out_of_scope(instruction: str, assets: Mapping[str, Any]) -> str | None:
    """One line when the instruction's words or images lie outside the miniworld
    (:mod:`anypix.models.miniworld.scope`)."""
    from anypix.models.miniworld.scope import out_of_scope as check

    return check(instruction, assets)


def draw_scene(
    seed: int, path: Path, *, objects: tuple[int, int] = (2, 3), palette: str | None = None,
    texture: str | None = None, size: int = 64,
) -> Path:  # fmt: skip
    """Draw scene ``seed`` (``objects`` = fewest, most) into ``path``; a ``palette`` or
    ``texture`` alone draws an empty background in that style. Unknown names raise ValueError."""
    from PIL import Image

    from anypix.models.miniworld.data import (
        PALETTES,
        TEXTURES,
        Scene,
        Style,
        random_scene,
        render,
    )

    for what, value, known in (("palette", palette, PALETTES), ("texture", texture, TEXTURES)):
        if value is not None and value not in known:
            raise ValueError(f"{value!r} is not a miniworld {what}: use one of {', '.join(known)}")
    if not 8 <= size <= 1024:  # a script's asset: a typo must not allocate gigabytes
        raise ValueError(f"size {size} is out of range: use 8 to 1024 pixels a side")
    if palette or texture:
        scene = Scene(seed, Style(palette or "mono", texture or "flat", 45, 0.2))
    else:
        scene = random_scene(seed, min_objects=objects[0], max_objects=objects[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(render(scene, size)[0]).save(path)
    return path


def sample_inputs(folder: Path) -> dict[str, Path]:
    """The demo's attachments: a scene to edit, a reference object (a purple triangle on its
    own), a style reference, and a tone whose pitch means cyan."""
    from PIL import Image

    from anypix.models.miniworld.data import (
        MiniObject,
        Scene,
        Style,
        random_scene,
        render,
        tone,
        write_wav,
    )
    from anypix.plan import Blob

    folder.mkdir(parents=True, exist_ok=True)
    triangle = Blob(description="a large purple triangle", cx=0.5, cy=0.5, a=0.3, b=0.24, angle=20)
    drawn = {
        "scene": random_scene(11, min_objects=2, max_objects=3),
        "ref": Scene(
            0, Style("mono", "flat"), (MiniObject("purple", "triangle", "large", triangle),)
        ),
        "stripes": Scene(0, Style("night", "stripes", angle=45, period=0.2)),
    }
    paths = {}
    for name, scene in drawn.items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(render(scene, 64)[0]).save(paths[name])
    paths["tone"] = folder / "tone.wav"
    write_wav(str(paths["tone"]), tone("cyan", "ellipse", seconds=1.0, seed=0))
    return paths


def train(run: Path, weights: Path, options: Recipe) -> Path:
    """Train the miniworld models from scratch: binding encoder + prior, then the diffusion UNet.

    Every stage resumes from its checkpoint under --run (Ctrl-C saves one). On CPU the whole
    recipe is a long job: in the from-scratch reproduction of 2026-12-03 (two threads of a
    shared 2-core machine) the first UNet stage alone took about 4 hours and the v2 stage 1.1.
    Where a GPU is lent, --device cuda runs the same recipe there."""
    from anypix.models.miniworld.recipe import train_miniworld

    return train_miniworld(run, weights, options)


def load_seecoder(components: Components) -> Any:
    """The SeeCoder shipped beside the weights (:mod:`anypix.models.miniworld.seecoder`): it
    reads an image out in the model's words, which its own text encoder makes into context."""
    from anypix.models.diffusion import encode_prompts
    from anypix.models.miniworld.loader import WEIGHTS
    from anypix.models.miniworld.seecoder import load_seecoder as load
    from anypix.models.miniworld.seecoder import part, sentence
    from anypix.models.seecoder import ImagePromptEncoder, Role

    folder = Path(components.options.get("weights") or WEIGHTS)
    if not (folder / "seecoder.safetensors").exists():
        folder = WEIGHTS  # it reads words, not UNet features: the shipped one serves any weights
    seecoder = load(folder)
    last: dict[bytes, list[str]] = {}  # the last images' captions, by their pixels

    def words(pixels: torch.Tensor, role: Role) -> list[str]:
        # one reading per image, whatever parts of it are asked for (an image prompt's layout
        # asks for its objects and then its caption)
        pixels = pixels.float().cpu()
        key = hashlib.sha1(pixels.numpy().tobytes()).digest() + str(tuple(pixels.shape)).encode()
        if key not in last:
            last.clear()
            last[key] = seecoder.describe(pixels, "variation")
        return [part(caption, role) for caption in last[key]]

    def texts(pixels: torch.Tensor, prompt: str, role: Role) -> list[str]:
        return [sentence(prompt, said, role) for said in words(pixels, role)]

    def context(pixels: torch.Tensor, prompt: str, role: Role) -> torch.Tensor:
        return encode_prompts(components, texts(pixels, prompt, role), do_cfg=False).hidden

    def null(context: torch.Tensor) -> torch.Tensor:
        return encode_prompts(components, [""] * context.shape[0], do_cfg=False).hidden

    def objects(pixels: torch.Tensor) -> list[list[str]]:  # "a red ring, a blue box and a ..."
        return [[p for p in re.split(r", | and ", said) if p] for said in words(pixels, "content")]

    return ImagePromptEncoder(context, null, f"miniworld-seecoder ({folder.name})", words,
                              texts, objects)  # fmt: skip


def train_seecoder(run: Path, weights: Path, options: Any) -> Path:
    """Train the miniworld SeeCoder (an image read out in the model's words, the context its
    frozen text encoder and UNet read); resumes from --run (docs/prior-and-seecoder.md)."""
    from anypix.models.miniworld.seecoder import train_seecoder as train_it

    return train_it(run, weights, options)


FAMILY = ModelFamily(
    name="miniworld",
    presets=(
        Preset(
            "miniworld",
            "diffusion",
            "family",
            "anypix's own small blob-grounded model, trained on the procedural miniworld "
            "(offline default)",
            capabilities=Capabilities(
                steps=DEFAULT_STEPS,
                guidance=DEFAULT_GUIDANCE,
                subject_method="tokens",
                locator_encoder="miniworld",
                locator_words=locator_words,
                blob_words=blob_words,
                verifier=load_verifier,
                draws="rings, ellipses, rectangles and triangles in eight colours and three "
                "sizes, on flat, gradient, striped, dotted, checked or noisy backgrounds",
                prior_mix=PRIOR_MIX,
                out_of_scope=out_of_scope,
                shape_critic=load_shape_critic,
                shape_guidance=SHAPE_GUIDANCE,
            ),
            family="miniworld",
        ),
    ),
    load_components=load_components,
    encoders={"miniworld": load_encoder},
    prior_for=prior_for,
    draw_scene=draw_scene,
    sample_inputs=sample_inputs,
    train=train,
    train_options=Recipe,
    trainers={"seecoder": (train_seecoder, SeeCoderOptions)},
    load_seecoder=load_seecoder,
)

__all__ = ["FAMILY", "load_components"]
