"""The miniworld binding encoder: shipped weights load, embeddings live in one unit-norm space
where held-out objects and tones land near their descriptions, and training resumes exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anypix.errors import AssetError, ModelUnavailableError
from anypix.models.encoders import MiniLMEncoder
from anypix.models.miniworld.binding import (
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    MiniworldBindingEncoder,
    load_binding,
    load_metadata,
    load_miniworld_prior,
    weights_digest,
)
from anypix.models.miniworld.data import COLOURS, SAMPLE_RATE, SHAPES, tone, write_wav
from anypix.models.miniworld.train_binding import (
    held_out_objects,
    held_out_tones,
    train_binding,
    vocabulary,
)

COLOUR_NAMES = list(COLOURS)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    return MiniLMEncoder("cpu")


@pytest.fixture(scope="module")
def encoder(minilm: MiniLMEncoder) -> MiniworldBindingEncoder:
    return load_binding(WEIGHTS_DIR, minilm=minilm)


def _to_image(pixels: torch.Tensor) -> Image.Image:
    array = ((pixels.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    return Image.fromarray(array)


def test_shipped_weights_are_small_named_by_their_digest_and_measured() -> None:
    encoder = load_binding(WEIGHTS_DIR)
    digest = weights_digest(WEIGHTS_DIR / WEIGHTS_FILE)
    assert encoder.encoder_id == f"miniworld-binding-{digest}"
    assert encoder.modalities == {"text", "image", "audio"} and encoder.dim == 128
    for name in ("binding.safetensors", "binding.json", "prior.pt"):
        assert (WEIGHTS_DIR / name).stat().st_size < 5_000_000
    metrics = load_metadata().metrics
    assert metrics["image_colour_from_96"] >= 0.95 and metrics["image_shape_from_96"] >= 0.95
    assert metrics["audio_colour_from_32"] >= 0.95 and metrics["audio_shape_from_32"] >= 0.95


def test_every_modality_gives_unit_vectors_of_the_shared_size(
    encoder: MiniworldBindingEncoder, tmp_path: Path
) -> None:
    pixels, _ = held_out_objects(2, salt=5)
    wav = tmp_path / "tone.wav"
    write_wav(str(wav), tone("red", "ring", 0.7, seed=3))
    vectors = [
        encoder.embed(["a red ring", "anything at all"], "text"),
        encoder.embed([_to_image(p) for p in pixels], "image"),
        encoder.embed([wav, (tone("blue", "ellipse", 1.0, seed=4), SAMPLE_RATE)], "audio"),
    ]
    for v in vectors:
        assert v.shape == (2, 128) and v.dtype == torch.float32
        assert torch.allclose(v.norm(dim=-1), torch.ones(2), atol=1e-4)


def test_held_out_objects_are_classified_by_colour_and_shape(
    encoder: MiniworldBindingEncoder,
) -> None:
    pixels, labels = held_out_objects(48, salt=11)  # seeds the shipped metrics never used
    images = encoder.embed_pixels(pixels)
    colours = (images @ encoder.embed_texts(vocabulary()["colour"]).T).argmax(dim=1)
    shapes = (images @ encoder.embed_texts(vocabulary()["shape"]).T).argmax(dim=1)
    assert float((colours == labels[:, 2]).float().mean()) >= 0.9
    assert float((shapes == labels[:, 3]).float().mean()) >= 0.85


def test_a_tone_retrieves_its_colour_among_texts_and_images(
    encoder: MiniworldBindingEncoder,
) -> None:
    waves, labels = held_out_tones(24, salt=12)
    audio = encoder.embed_waveforms(waves)
    by_text = (audio @ encoder.embed_texts(vocabulary()["colour_shape"]).T).argmax(dim=1)
    assert float((by_text // len(SHAPES) == labels // len(SHAPES)).float().mean()) >= 0.9
    pixels, objects = held_out_objects(96, salt=13)
    nearest = (audio @ encoder.embed_pixels(pixels).T).argmax(dim=1)
    assert float((objects[nearest, 2] == labels // len(SHAPES)).float().mean()) >= 0.85


def test_inputs_are_normalised_to_what_the_model_was_trained_on(
    encoder: MiniworldBindingEncoder,
) -> None:
    pixels, _ = held_out_objects(3, salt=14)
    big = torch.nn.functional.interpolate(pixels, size=(128, 128), mode="nearest")
    same = (encoder.embed_pixels(pixels) * encoder.embed_pixels(big)).sum(-1)
    assert bool((same > 0.95).all())
    wave = tone("green", "triangle", 1.0, seed=9)
    times = np.arange(int(len(wave) * 22050 / SAMPLE_RATE)) * SAMPLE_RATE / 22050
    at_22k = np.interp(times, np.arange(len(wave)), wave).astype(np.float32)
    a, b = encoder.embed([(wave, SAMPLE_RATE), (at_22k, 22050)], "audio")
    assert float(a @ b) > 0.95


def test_bad_inputs_and_missing_weights_say_what_to_do(
    encoder: MiniworldBindingEncoder, tmp_path: Path
) -> None:
    with pytest.raises(AssetError, match="cannot read image"):
        encoder.embed([tmp_path / "missing.png"], "image")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        encoder.embed_pixels(torch.zeros(3, 64, 64))
    with pytest.raises(ModelUnavailableError, match="train_binding"):
        load_binding(tmp_path)


def test_the_registry_preset_loads_the_shipped_encoder() -> None:
    from anypix.models.encoders import load_encoder

    loaded = load_encoder("miniworld")
    assert isinstance(loaded, MiniworldBindingEncoder)
    assert loaded.encoder_id == load_binding(WEIGHTS_DIR).encoder_id


def test_the_shipped_prior_moves_text_towards_the_images_it_describes(
    encoder: MiniworldBindingEncoder,
) -> None:
    prior = load_miniworld_prior()
    assert prior.config.dim == encoder.dim
    pixels, labels = held_out_objects(96, salt=15)
    images = encoder.embed_pixels(pixels)
    texts = encoder.embed_texts(vocabulary()["object"])[labels[:, 0]]
    refined = prior.generate(texts, "text")
    assert float((refined - images).norm(dim=-1).mean()) < float(
        (texts - images).norm(dim=-1).mean()
    )


def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(
    tmp_path: Path, minilm: MiniLMEncoder
) -> None:
    tiny = {"batch": 4, "evaluate": False, "tones": 16, "captions": 4, "minilm": minilm}
    seen: list[int] = []
    train_binding(tmp_path / "a", steps=2, **tiny)  # type: ignore[arg-type]
    result = train_binding(
        tmp_path / "a",
        steps=4,
        progress=lambda step, total, stats: seen.append(step),
        **tiny,  # type: ignore[arg-type]
    )
    assert seen == [3, 4] and result["training"]["steps"] == 4
    assert torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["step"] == 4
    train_binding(tmp_path / "b", steps=4, **tiny)  # type: ignore[arg-type]
    resumed, straight = load_binding(tmp_path / "a"), load_binding(tmp_path / "b")
    assert resumed.encoder_id == straight.encoder_id  # identical fp16 weights


def test_subjects_are_described_in_the_worlds_words(encoder: MiniworldBindingEncoder) -> None:
    """What [sub] images and sounds become in a render's blobs: "{colour} {shape}"."""
    from anypix.models.miniworld.loader import MiniworldSubjects

    subjects = MiniworldSubjects(unet=None, binding=encoder)
    waves, labels = held_out_tones(16, salt=14)
    said = subjects.describe([(w, SAMPLE_RATE) for w in waves])
    expected = [
        f"{COLOUR_NAMES[int(i) // len(SHAPES)]} {SHAPES[int(i) % len(SHAPES)]}" for i in labels
    ]
    assert np.mean([s == e for s, e in zip(said, expected, strict=True)]) >= 0.9
    pixels, objects = held_out_objects(16, salt=15)
    said = subjects.describe([_to_image(p) for p in pixels])
    colours = [COLOUR_NAMES[int(row[2])] for row in objects]
    assert np.mean([s.split()[0] == c for s, c in zip(said, colours, strict=True)]) >= 0.9
