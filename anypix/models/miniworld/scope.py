"""What the miniworld model can draw, and how to tell a request that lies outside it.

The miniworld UNet learnt one small world: rings, ellipses, rectangles and triangles in eight
saturated colours and three sizes, on backgrounds that blend two colours of one of six muted
palettes, 64x64. Asked for a cat, or given a real photo, it still draws -- blobs of its own
colours -- so the person must hear at once, in one line, what it can draw and how to use a real
preset. :func:`out_of_scope` is the family's ``Capabilities.out_of_scope``:

* **words**: an instruction's words that are neither the world's (:func:`~.model.vocabulary`)
  nor instruction words (verbs, places, sizes, whole-image words from :mod:`anypix.lexicon`, and
  plain English function words); ``[names]`` are the person's attachments, not words;
* **images**: a picture is outside the world when many of its pixels are far from every object
  colour and from every palette's blend (a photo's continuous colours), or when it is not square.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

# Words of instructions that name no thing to draw (besides the lexicon's verbs and places).
_FUNCTION_TEXT = """
a an the this that these those it its it's them they their there here me my your our us we you
i and or but so then than too also very more less most least much many some any all each every
both either other another same such only just even still again instead now please thanks thank
of in on at to into onto from by with without for about over under above below behind beside
between near next inside outside around across through up down off out away back front side
corner top bottom left right middle center centre upper lower edge half rest
is are be been being was were do does did done has have had will would can could should may
might must let lets want wants like as if when where what which who how why not no yes
one two three four five six first second third last new old same whole entire bit little
image picture photo scene thing things object objects one's some more way look looks
shape shapes item items stuff following plus minus everywhere vibe vibes mood aesthetic
variation variations version versions saturated saturation
"""
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
FAR = 45.0  # RGB distance beyond which a pixel is no world colour nor palette blend
MAX_FAR_SHARE = 0.15  # a world image (even resized) has fewer such pixels than this
WORD = re.compile(r"[a-z][a-z'-]*")


@cache
def known_words() -> frozenset[str]:
    """The miniworld's words and every word instructions use to say what to do."""
    from anypix.lexicon import lexicon
    from anypix.models.miniworld.words import vocabulary

    words = lexicon()
    phrases = [p for verbs in words["verbs"].values() for p in verbs]
    for key in ("unsupported_verbs", "size_words", "whole_image", "style_nouns", "color_modifiers"):
        phrases += list(words[key])
    found = {w for phrase in phrases for w in phrase.lower().split()}
    return frozenset(found | set(vocabulary()) | FUNCTION_WORDS)


def unknown_words(instruction: str) -> list[str]:
    """Words of ``instruction`` the model never learnt, in order, once each."""
    text = re.sub(r"\[[^\]]*\]", " ", instruction.lower())
    known, unknown = known_words(), []
    for word in WORD.findall(text):
        word = word.strip("'-")
        stems = {word, word.removesuffix("s"), word.removesuffix("es"), word.removesuffix("'s")}
        if len(word) > 1 and not stems & known and word not in unknown:
            unknown.append(word)
    return unknown


def _world_colours() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from anypix.models.miniworld.data import COLOURS, PALETTES

    points = np.array(list(COLOURS.values()), dtype=np.float64)
    starts = np.array([light for light, _ in PALETTES.values()], dtype=np.float64)
    ends = np.array([dark for _, dark in PALETTES.values()], dtype=np.float64)
    return points, starts, ends


def far_share(pixels: np.ndarray) -> float:
    """The share of pixels (..., 3) farther than :data:`FAR` from every object colour and from
    every palette's blend of its two colours."""
    points, starts, ends = _world_colours()
    flat = pixels.reshape(-1, 3).astype(np.float64)
    nearest = np.linalg.norm(flat[:, None] - points[None], axis=-1).min(axis=1)
    span = ends - starts  # (palettes, 3)
    t = ((flat[:, None] - starts[None]) * span[None]).sum(-1) / (span**2).sum(-1)[None]
    closest = starts[None] + np.clip(t, 0, 1)[..., None] * span[None]
    blend = np.linalg.norm(flat[:, None] - closest, axis=-1).min(axis=1)
    return float((np.minimum(nearest, blend) > FAR).mean())


def outside_world(image: Any) -> str | None:
    """Why ``image`` (a PIL image) is not a miniworld picture, or None when it is one."""
    from PIL import Image

    width, height = image.size
    small = image.convert("RGB")
    if max(width, height) > 128:  # the colour test needs no more; area keeps colours honest
        scale = 128 / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = small.resize(size, Image.Resampling.BOX)
    if far_share(np.asarray(small)) > MAX_FAR_SHARE:
        return "looks like a photo"
    if width != height:
        return f"is {width}x{height}, not square"
    return None


def out_of_scope(instruction: str, assets: Mapping[str, Path | Any]) -> str | None:
    """One line for the person when ``instruction`` or its images lie outside the miniworld:
    what it cannot take, what it can draw, and how to use a real preset; None when all fits."""
    from anypix.media import sniff

    problems = []
    words = unknown_words(instruction)
    if words:
        listed = ", ".join(f"'{w}'" for w in words[:4]) + (" ..." if len(words) > 4 else "")
        problems.append(f"it never learnt {listed}")
    for name, value in assets.items():
        why = _image_problem(value, sniff)
        if why is not None:
            problems.append(f"[{name}] {why}")
    if not problems:
        return None
    return (f"miniworld draws only rings, ellipses, rectangles and triangles in eight colours on "
            f"simple backgrounds, and {'; '.join(problems)}: for real pictures use a real preset, "
            f"e.g. --model sd15 with ANYPIX_MODEL_PATHS__SD15=/path/to/sd15")  # fmt: skip


def _image_problem(value: Path | Any, sniff: Any) -> str | None:
    from PIL import Image

    from anypix.errors import AssetError

    if isinstance(value, Image.Image):
        return outside_world(value)
    try:
        modality, _ = sniff(Path(value))
    except (AssetError, OSError):
        return None  # not readable here: the render says so in its own words
    if modality != "image":
        return None
    with Image.open(value) as opened:
        return outside_world(opened)
