"""Does an image, as the only prompt, bring back its objects and style? (``--only seecoder``)

Each held-out scene (1-3 objects) is rendered by the model from its picture alone, through the
SeeCoder trained for its UNet (the ``image_prompt`` tool's path, no words), and the result is
compared with the source scene:

* ``seecoder_colour_recall``: share of the source's objects whose colour covers >= 16 px;
* ``seecoder_count_accuracy``: share of renders with as many object colours as the source has
  objects (:func:`~anypix.models.miniworld.metrics.count_objects`);
* ``seecoder_shape_in_place``: share of the source's objects found with their shape near their
  own blob (:func:`~anypix.models.miniworld.metrics.classify_shape`): what *and* where;
* ``seecoder_style_match``: share of renders whose background is classified as the source's
  (palette, texture);
* ``seecoder_words_exact``: share of sources the SeeCoder read out in exactly their caption's
  words (any order), for a SeeCoder that reads images out in words.

Baselines on the same scenes and seeds: ``*_text`` renders the source's caption in words (no
image, no blobs: what a prompt can say), ``*_null`` renders the unconditional context (chance). As
the style prompt: the caption's objects in words with another scene of the source's style as the
image (``seecoder_style_prompt_match``) against the words alone (``..._text``, style unnamed).
The ceiling is the source itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from anypix.models.miniworld.data import Scene, colour_mask, random_scene
from anypix.models.miniworld.data import render as draw_scene

if TYPE_CHECKING:
    from benchmarks.fidelity import Bench, Figures

SIDE = 64
MIN_PIXELS = 16


def judge(image: np.ndarray, scene: Scene) -> dict[str, Any]:
    """Colour recall, count, shape in place and background style of ``image`` against
    ``scene``'s objects and style."""
    from anypix.models.miniworld.metrics import (
        background_mask,
        classify_background,
        classify_shape,
        count_objects,
    )

    objects = scene.objects
    present = [int(colour_mask(image, o.colour).sum()) >= MIN_PIXELS for o in objects]
    shaped = [classify_shape(image, o) == o.shape for o in objects]
    style = classify_background(image, background_mask(image, [o.blob for o in objects]))
    return {"colour": present, "shape": shaped, "count": count_objects(image) == len(objects),
            "style": style == (scene.style.palette, scene.style.texture)}  # fmt: skip


def seecoder_figures(bench: Bench, seeds: Sequence[int]) -> tuple[Figures, Figures]:
    import torch
    from PIL import Image

    from anypix.errors import AnypixError
    from anypix.models.diffusion import encode_prompts
    from anypix.tools.image_prompt import (
        ImagePromptEncoder,
        image_prompt_encoder,
        image_to_tensor,
        render_image_prompt,
    )
    from benchmarks.fidelity import Progress

    components = bench.components
    try:
        encoder = image_prompt_encoder(components)
    except AnypixError as exc:
        return {"seecoder_colour_recall": None, "seecoder_note": str(exc)}, {}
    # The same sampling with the image left out: the words alone ("" for nothing at all).
    words_only = ImagePromptEncoder(
        lambda pixels, prompt, role: encode_prompts(
            components, [prompt] * pixels.shape[0], do_cfg=False).hidden,
        encoder.null, "words only")  # fmt: skip
    found: dict[str, list[Any]] = {}
    read_right: list[bool] = []
    progress = Progress("seecoder", len(seeds))

    def draw(image: Any, prompt: str, role: Any, seed: int, which: Any = encoder) -> np.ndarray:
        drawn = render_image_prompt(components, which, image, prompt, role, seed=seed,
                                    steps=bench.steps, guidance=bench.guidance)  # fmt: skip
        return np.asarray(drawn.convert("RGB"))

    for seed in seeds:
        scene = random_scene(seed, min_objects=1, max_objects=3)
        source = draw_scene(scene, SIDE)[0]
        picture = Image.fromarray(source)
        objects = scene.caption().rsplit(" on ", 1)[0]
        other = random_scene(seed + 1, max_objects=2)  # the source's style, other objects
        style_image = Image.fromarray(draw_scene(Scene(seed + 1, scene.style, other.objects),
                                                 SIDE)[0])  # fmt: skip
        if encoder.words is not None:
            said = encoder.words(image_to_tensor(picture), "variation")[0]
            read_right.append(sorted(said.split()) == sorted(scene.caption().split()))
        with torch.inference_mode():
            images = {
                "image": draw(picture, "", "variation", seed),
                "text": draw(picture, scene.caption(), "variation", seed, words_only),
                "null": draw(picture, "", "variation", seed, words_only),
                "gt": source,
                "style_prompt": draw(style_image, objects, "style", seed),
                "style_prompt_text": draw(style_image, objects, "style", seed, words_only),
            }
        for variant, image in images.items():
            for key, value in judge(image, scene).items():
                found.setdefault(f"{key}_{variant}", []).extend(
                    value if isinstance(value, list) else [value])  # fmt: skip
        progress.step()
    rate = {key: float(np.mean(values)) for key, values in found.items()}
    names = {"colour": "colour_recall", "count": "count_accuracy", "shape": "shape_in_place",
             "style": "style_match"}  # fmt: skip
    model: Figures = {"seecoder": encoder.name}
    if read_right:
        model["seecoder_words_exact"] = float(np.mean(read_right))
    for key, name in names.items():
        model[f"seecoder_{name}"] = rate[f"{key}_image"]
        model[f"seecoder_{name}_text"] = rate[f"{key}_text"]
        model[f"seecoder_{name}_null"] = rate[f"{key}_null"]
    model["seecoder_style_prompt_match"] = rate["style_style_prompt"]
    model["seecoder_style_prompt_match_text"] = rate["style_style_prompt_text"]
    model["seecoder_style_prompt_colour_recall"] = rate["colour_style_prompt"]
    truth = {f"seecoder_{name}": rate[f"{key}_gt"] for key, name in names.items()}
    return model, truth
