"""The miniworld SeeCoder: image -> context tokens for the frozen UNet, its training run
(checkpoints resume exactly, export is fp16 and small) and the image_prompt tool."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from anypix.errors import NotAvailableError
from anypix.models.miniworld.data import random_scene, render
from anypix.models.miniworld.loader import WEIGHTS
from anypix.models.miniworld.seecoder import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    WORDS,
    MiniSeeCoder,
    SeeCoderConfig,
    caption_words,
    load_seecoder,
    part,
    sentence,
    train_seecoder,
    words_to_text,
)
from anypix.models.miniworld.seecoder_options import SeeCoderOptions

SHIPPED = (WEIGHTS / WEIGHTS_FILE).exists()


def test_an_image_becomes_one_word_per_word_query() -> None:
    torch.manual_seed(0)
    model = MiniSeeCoder(SeeCoderConfig()).eval()
    images = torch.rand(3, 3, 64, 64)
    logits = model(images)
    assert logits.shape == (3, 32, len(WORDS))
    # any size is read as the model's square; each image is encoded on its own
    assert model(torch.rand(1, 3, 96, 128)).shape == (1, 32, len(WORDS))
    assert torch.allclose(model(images[1:2]), logits[1:2], atol=1e-5)
    assert all(isinstance(words, str) for words in model.describe(images))


def test_captions_list_objects_left_to_right_and_split_into_content_and_style() -> None:
    scene = random_scene(7, min_objects=3, max_objects=3)
    words = caption_words(scene)
    assert all(word in WORDS for word in words) and len(words) <= SeeCoderConfig().word_queries
    text = words_to_text([WORDS.index(w) for w in words] + [0, WORDS.index("red")])
    ordered = sorted(scene.objects, key=lambda o: o.blob.cx)
    assert text.startswith(ordered[0].sentence() + ", " + ordered[1].sentence() + " and ")
    assert text.endswith(" on " + scene.style.describe())  # the end word stops the reading
    assert part(text, "content") + " " + part(text, "style") == text
    assert part("an empty scene on flat warm", "style") == "on flat warm"
    assert sentence("a red ring", "on night stripes", "style") == "a red ring on night stripes"
    assert sentence("on night stripes", "a red ring", "content") == "a red ring on night stripes"
    assert sentence("", "a red ring on flat warm", "variation") == "a red ring on flat warm"


def test_training_resumes_exactly_and_exports_small_fp16_weights(tmp_path: Path) -> None:
    options = SeeCoderOptions(steps=2, minutes=0, batch=4, checkpoint_every=1, threads=1)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_seecoder(straight, straight / "out", replace(options, steps=3), log=lambda _: None)
    train_seecoder(resumed, resumed / "out", options, log=lambda _: None)
    train_seecoder(resumed, resumed / "out", replace(options, steps=3), log=lambda _: None)
    first = torch.load(straight / "checkpoint.pt", weights_only=False)
    second = torch.load(resumed / "checkpoint.pt", weights_only=False)
    assert first["step"] == second["step"] == 3
    for key, value in first["seecoder"].items():
        assert torch.equal(value, second["seecoder"][key]), key
    exported = resumed / "out" / WEIGHTS_FILE
    assert exported.stat().st_size < 2_000_000 and (resumed / "out" / CONFIG_FILE).exists()
    loaded = load_seecoder(resumed / "out")
    assert not loaded.training
    weights = loaded.state_dict()
    assert all(torch.equal(weights[k], v.half().float()) for k, v in second["seecoder"].items())


def test_training_lowers_the_caption_loss(tmp_path: Path) -> None:
    import numpy as np

    from anypix.models.miniworld.seecoder import caption_loss, make_batch

    options = SeeCoderOptions(steps=30, minutes=0, batch=8, warmup=5, checkpoint_every=100)
    train_seecoder(tmp_path, tmp_path / "out", options, log=lambda _: None)
    pixels, targets = make_batch(np.random.default_rng(99), options, SeeCoderConfig().word_queries)
    torch.manual_seed(options.seed)
    with torch.no_grad():
        untrained, _ = caption_loss(MiniSeeCoder(SeeCoderConfig()).eval(), pixels, targets)
        trained, _ = caption_loss(load_seecoder(tmp_path / "out"), pixels, targets)
    assert float(trained) < 0.6 * float(untrained)


def test_a_folder_without_a_seecoder_says_how_to_train_one(tmp_path: Path) -> None:
    from anypix.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match="anypix train miniworld-seecoder"):
        load_seecoder(tmp_path)
    train_seecoder(tmp_path, tmp_path, SeeCoderOptions(steps=1, batch=2), log=lambda _: None)
    info = json.loads((tmp_path / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**info, "words": ["<end>", "cat"]}))
    with pytest.raises(ModelUnavailableError, match="reads other words"):
        load_seecoder(tmp_path)


@pytest.fixture(scope="module")
def miniworld() -> Any:
    from anypix.models.diffusion import load_components

    return load_components("miniworld", device="cpu")


def _scene(seed: int, path: Path) -> Path:
    Image.fromarray(render(random_scene(seed, min_objects=1, max_objects=3), 64)[0]).save(path)
    return path


@pytest.mark.skipif(not SHIPPED, reason="no SeeCoder shipped beside the miniworld weights")
def test_the_image_prompt_tool_draws_from_an_image_alone(miniworld: Any, tmp_path: Path) -> None:
    from anypix.tools.registry import get

    tool = get("image_prompt")
    assert "image" in tool.parameters["required"] and "prompt" in tool.parameters["properties"]
    one, two = _scene(100_001, tmp_path / "one.png"), _scene(100_002, tmp_path / "two.png")
    made = [tool(**tool.validate({"image": str(src), "output": str(tmp_path / f"{i}.png"),
                                  "seed": 5, "steps": 6}), _models=miniworld)
            for i, src in enumerate((one, one, two))]  # fmt: skip
    pixels = [np.asarray(Image.open(m["image"])) for m in made]
    assert pixels[0].shape == (64, 64, 3) and made[0]["seed"] == 5
    assert np.array_equal(pixels[0], pixels[1])  # same image and seed: the same picture
    assert not np.array_equal(pixels[0], pixels[2])  # another image prompts another picture
    assert made[0]["image_words"] and made[0]["role"] == "variation"
    styled = tool(image=one, output=tmp_path / "s.png", prompt="a red ring", role="style",
                  seed=5, steps=6, _models=miniworld)  # fmt: skip
    assert styled["image_words"].startswith("on ")  # only the image's style was read


def test_a_preset_without_a_seecoder_refuses_image_prompts(tmp_path: Path) -> None:
    from anypix.config import Settings
    from anypix.models.diffusion import load_components
    from anypix.tools.image_prompt import image_prompt

    tiny = load_components("tiny-random", settings=Settings(device="cpu", model_paths={}))
    with pytest.raises(NotAvailableError, match="no SeeCoder trained for its UNet"):
        image_prompt(_scene(1, tmp_path / "s.png"), tmp_path / "o.png", _models=tiny)


def test_anypix_train_has_a_seecoder_command() -> None:
    from typer.testing import CliRunner

    from anypix.cli import app

    result = CliRunner().invoke(app, ["train", "miniworld-seecoder", "--help"])
    assert result.exit_code == 0 and "--minutes" in result.output and "--run" in result.output


def _reader(objects: list[str], style: str = "on cool dots") -> Any:
    """An encoder that reads every image out as ``objects`` on ``style`` (what a SeeCoder says)."""
    from anypix.models.seecoder import ImagePromptEncoder

    said = " and ".join(objects)

    def texts(pixels: torch.Tensor, prompt: str, role: Any) -> list[str]:
        return [sentence(prompt, part(f"{said} {style}", role), role)] * pixels.shape[0]

    return ImagePromptEncoder(lambda p, t, r: torch.zeros(p.shape[0], 1, 8),
                              lambda c: torch.zeros_like(c), "reader", None, texts,
                              lambda pixels: [list(objects)] * pixels.shape[0])  # fmt: skip


def test_an_image_prompt_draws_each_object_read_where_the_image_has_it(
    miniworld: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blob-grounded default model draws objects where blobs are; from the words alone it
    drew 13% of an image's colours (benchmarks/figures_seecoder.py, dev)."""
    from anypix.models.miniworld.data import MiniObject, Scene, Style
    from anypix.plan import Blob
    from anypix.tools.image_prompt import image_layout

    def obj(colour: str, shape: str, cx: float, cy: float) -> MiniObject:
        return MiniObject(colour, shape, "medium", Blob(description=f"a {colour} {shape}",
                                                          cx=cx, cy=cy, a=0.14, b=0.11, angle=0))  # fmt: skip

    scene = Scene(
        1, Style("cool", "dots"), (obj("red", "ring", 0.7, 0.3), obj("blue", "triangle", 0.25, 0.7))
    )
    image = Image.fromarray(render(scene, 64)[0])
    # read left to right: the triangle (cx 0.25) first
    text, blobs = image_layout(miniworld, _reader(["a blue triangle", "a red ring"]), image)
    assert text == "a blue triangle and a red ring on cool dots"
    assert [b.description for b in blobs] == ["a blue triangle", "a red ring"]
    assert [(round(b.cx, 1), round(b.cy, 1)) for b in blobs] == [(0.2, 0.7), (0.7, 0.3)]
    # the words the person gives the image as content come with it
    assert image_layout(miniworld, _reader(["a blue triangle", "a red ring"]), image,
                        "on warm stripes", "content")[0].endswith("on warm stripes")  # fmt: skip
    # the render of an image prompt is the blob-grounded render of that layout
    from anypix.tools import render as render_module
    from anypix.tools.image_prompt import render_image_prompt

    drawn: list[Any] = []
    real = render_module.render
    monkeypatch.setattr(
        render_module, "render", lambda plan, *a, **k: drawn.append(plan) or real(plan, *a, **k)
    )
    render_image_prompt(
        miniworld, _reader(["a blue triangle", "a red ring"]), image, seed=3, steps=2
    )
    assert [b.description for b in drawn[0].blobs] == ["a blue triangle", "a red ring"]
    # three objects read, two found: no places to give them; style alone: no objects to place
    assert image_layout(miniworld, _reader(["a", "b", "c"]), image) is None
    assert image_layout(miniworld, _reader(["a blue triangle", "a red ring"]), image, "a ring",
                        "style") is None  # fmt: skip


@pytest.mark.skipif(not SHIPPED, reason="no SeeCoder shipped beside the miniworld weights")
def test_an_image_prompt_reads_its_image_once(
    miniworld: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The layout asks for the image's objects, then its caption: one SeeCoder reading serves
    both (it ran the SeeCoder twice per image); another image is read anew."""
    import anypix.models.miniworld.seecoder as module
    from anypix.models.miniworld import load_seecoder
    from anypix.tools.image_prompt import image_layout

    reads: list[int] = []
    real = module.load_seecoder

    def counted(folder: Path) -> Any:
        seecoder = real(folder)
        describe = seecoder.describe
        monkeypatch.setattr(seecoder, "describe",
                            lambda images, role="variation": reads.append(1) or describe(images, role))  # fmt: skip
        return seecoder

    monkeypatch.setattr(module, "load_seecoder", counted)
    encoder = load_seecoder(miniworld)
    one = Image.open(_scene(100_003, tmp_path / "one.png"))
    image_layout(miniworld, encoder, one)
    assert len(reads) == 1
    two = Image.open(_scene(100_004, tmp_path / "two.png"))
    image_layout(miniworld, encoder, two)
    assert len(reads) == 2
