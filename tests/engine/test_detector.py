"""The photo presets' verifier: OWLv2 through transformers, loaded with from_pretrained from a
tiny random model saved in a temp dir (no Hub), as a real one would be from model_paths.owlv2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anypix.config import load_settings
from anypix.errors import ModelUnavailableError
from anypix.models.detector import DetectorPerception, load_detector
from anypix.models.registry import capabilities, get_preset, resolve_source

QUERIES = ["a red car", "a green car", "a dog"]


@pytest.fixture(scope="module")
def tiny_owlv2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer OWLv2 and its processor (a letters-only CLIP vocabulary), saved as a folder."""
    import torch
    from transformers import (
        CLIPTokenizer,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    folder = tmp_path_factory.mktemp("owlv2")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({token: index + 2 for index, token in
                  enumerate(letters + [f"{letter}</w>" for letter in letters])})  # fmt: skip
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                              pad_token="<|endoftext|>")  # fmt: skip
    processor = Owlv2Processor(Owlv2ImageProcessor(size={"height": 32, "width": 32}), tokenizer)
    text = dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=16, bos_token_id=0,
                eos_token_id=1, pad_token_id=1)  # fmt: skip
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  num_attention_heads=2, image_size=32, patch_size=8)  # fmt: skip
    torch.manual_seed(0)
    model = Owlv2ForObjectDetection(
        Owlv2Config(text_config=text, vision_config=vision, projection_dim=16)
    )
    model.save_pretrained(folder / "model")
    processor.save_pretrained(folder / "model")
    return folder / "model"


def test_it_loads_with_from_pretrained_and_labels_each_box_with_a_query(tiny_owlv2: Path) -> None:
    perception = DetectorPerception.from_pretrained(str(tiny_owlv2), threshold=0.0)
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    found = perception.detect(image, QUERIES)
    assert found, "threshold 0 keeps every patch's best box"
    assert {d.label for d in found} <= set(QUERIES)
    for detection in found:
        assert detection.mask.shape == (48, 64) and detection.mask.dtype == bool
        assert set(detection.fits) == set(QUERIES)
        assert detection.fits[detection.label] == pytest.approx(detection.score)
    # one label's boxes overlapping more than NMS_IOU are one object
    for a in found:
        for b in found:
            if a is not b and a.label == b.label:
                union = (a.mask | b.mask).sum()
                assert union == 0 or (a.mask & b.mask).sum() / union <= 0.5
    strict = DetectorPerception.from_pretrained(str(tiny_owlv2), threshold=1.0)
    assert strict.detect(image, QUERIES) == []  # no random box is certain


def test_its_words_ask_the_other_colours_of_the_same_object() -> None:
    words = DetectorPerception(source="unused")
    assert words.canonical("The red car") == "a red car"
    others = words.alternatives("a red car")
    assert "a green car" in others and "a red car" not in others
    assert words.alternatives("a car") == []


def test_photo_presets_name_it_and_it_loads_only_when_first_used(
    tiny_owlv2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_preset("owlv2").kind == "detector"
    for preset in ("sd15", "sdxl"):
        assert capabilities(preset).verifier is not None
    lazy = load_detector(load_settings(), resolve_source)  # not on this machine: nothing fails yet
    with pytest.raises(ModelUnavailableError, match="owlv2"):
        lazy.detect(np.zeros((8, 8, 3), dtype=np.uint8), QUERIES)
    monkeypatch.setenv("ANYPIX_MODEL_PATHS__OWLV2", str(tiny_owlv2))
    local = load_detector(load_settings(), resolve_source)
    local.threshold = 0.0
    assert local.detect(np.zeros((16, 16, 3), dtype=np.uint8), QUERIES)
