"""Embedding cache, session index, retrieval and [base]/[sub] resolution."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from PIL import Image

from anypix.errors import AnypixError, UnknownAssetError
from anypix.tools.embed import EmbeddingCache, content_sha256, embed
from anypix.tools.retrieve import AmbiguousReferenceError, SessionIndex, retrieve
from tests.binding.fakes import BagOfWordsEncoder

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "binding.py"


def _benchmark_module():  # the scene and query generators live with the benchmark
    spec = importlib.util.spec_from_file_location("binding_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_second_embed_of_the_same_content_does_not_call_the_model(tmp_path: Path) -> None:
    encoder = BagOfWordsEncoder()
    cache = EmbeddingCache(encoder, tmp_path)
    first, cached_first = cache.embed(["a red car", "a blue boat"], "text")
    second, cached_second = cache.embed(["a blue boat", "a red car"], "text")
    assert encoder.calls == 1 and cached_first == [False, False] and cached_second == [True, True]
    assert torch.equal(second[0], first[1])
    # A new cache object (a new process) finds the files on disk.
    assert EmbeddingCache(encoder, tmp_path).embed(["a red car"], "text")[1] == [True]
    assert encoder.calls == 1
    # Only misses go to the model, in one batch.
    cache.embed(["a red car", "a green tree"], "text")
    assert (encoder.calls, encoder.items_seen) == (2, 3)
    # Another encoder id never reads these vectors.
    other = BagOfWordsEncoder(encoder_id="fake-other")
    EmbeddingCache(other, tmp_path).embed(["a red car"], "text")
    assert other.calls == 1


def test_content_hash_follows_bytes_not_names(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (8, 8), "red").save(a)
    Image.new("RGB", (8, 8), "red").save(b)
    assert content_sha256(a, "image") == content_sha256(b, "image")
    assert content_sha256("red", "text") != content_sha256("blue", "text")


def test_embed_tool_caches_under_the_data_dir(_isolated_settings: Path) -> None:
    encoder = BagOfWordsEncoder()
    first = embed(text="a red car", _encoder=encoder)
    second = embed(text="a red car", _encoder=encoder)
    assert (first.cached, second.cached, encoder.calls) == (False, True, 1)
    assert abs(sum(x * x for x in first.embedding) - 1) < 1e-4
    assert (_isolated_settings / "embeddings" / "fake-bow" / f"{first.sha256}.npy").exists()
    with pytest.raises(AnypixError, match="exactly one"):
        embed(_encoder=encoder)


def _index(tmp_path: Path) -> SessionIndex:
    index = SessionIndex(BagOfWordsEncoder(), cache_root=tmp_path)
    index.add(
        "photo", Image.new("RGB", (8, 8), "red"), "image", caption="a red car parked on a street"
    )
    index.add(
        "beach",
        Image.new("RGB", (8, 8), "yellow"),
        "image",
        caption="a dog running on a sandy beach",
    )
    index.add("song", (torch.zeros(16), 16_000), "audio", caption="birds singing in a forest")
    index.add(
        "lake", Image.new("RGB", (8, 8), "blue"), "image", caption="a calm lake with mountains"
    )
    return index


def test_retrieve_ranks_assets_by_description(tmp_path: Path) -> None:
    result = retrieve("the photo with the red car", "image", k=2, _index=_index(tmp_path))
    assert result.hits[0].name == "photo"
    assert result.hits[0].score > result.hits[1].score
    audio = retrieve("birds singing", "audio", k=5, _index=_index(tmp_path))
    assert [h.name for h in audio.hits] == ["song"]


def test_retrieve_by_embedding(tmp_path: Path) -> None:
    index = _index(tmp_path)
    query = index.text_cache.embed(["calm lake mountains"], "text")[0][0]
    assert retrieve(query.tolist(), "any", k=1, _index=index).hits[0].name == "lake"


def test_explicit_names_win_over_descriptions(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.add("car", Image.new("RGB", (8, 8), "green"), "image", caption="a sandy beach")
    assert index.resolve("[car]").name == "car"
    assert index.resolve("[car]").how == "name"


def test_recency_phrases_follow_arrival_order(tmp_path: Path) -> None:
    index = _index(tmp_path)
    assert index.resolve("the last picture").name == "lake"
    assert index.resolve("the first photo").name == "photo"
    assert index.resolve("the latest sound", modality=None).name == "song"
    index.add(
        "photo", Image.new("RGB", (8, 8), "red"), "image", caption="a red car parked on a street"
    )
    assert index.resolve("my most recent image").name == "photo"  # re-adding moves it last
    with pytest.raises(UnknownAssetError):
        index.resolve("the third sound", modality=None)


def test_description_resolves_by_retrieval(tmp_path: Path) -> None:
    resolution = _index(tmp_path).resolve("the photo with the dog on the beach")
    assert (resolution.name, resolution.how) == ("beach", "retrieval")
    assert resolution.candidates[0].name == "beach"


def test_ambiguity_below_the_margin_is_reported_not_guessed(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.add(
        "twin", Image.new("RGB", (8, 8), "red"), "image", caption="a red car parked on a street"
    )
    with pytest.raises(AmbiguousReferenceError) as info:
        index.resolve("the red car")
    assert {h.name for h in info.value.candidates} == {"photo", "twin"}
    assert "[photo]" in str(info.value) and "[twin]" in str(info.value)
    # With no margin the best one is taken.
    assert index.resolve("the red car", margin=0.0).name in {"photo", "twin"}


def test_nothing_matching_is_unknown_not_a_random_pick(tmp_path: Path) -> None:
    with pytest.raises(UnknownAssetError):
        _index(tmp_path).resolve("quantum chromodynamics lecture", min_score=0.5)


def test_content_embeddings_bind_across_modalities(tmp_path: Path) -> None:
    # An encoder that embeds images too: a vector query finds the image by its content.
    encoder = BagOfWordsEncoder(modalities=("text", "image"))
    index = SessionIndex(encoder, cache_root=tmp_path)
    index.add("red", Image.new("RGB", (8, 8), (250, 0, 0)), "image")
    index.add("blue", Image.new("RGB", (8, 8), (0, 0, 250)), "image")
    query = encoder.embed([Image.new("RGB", (4, 4), (240, 10, 10))], "image")[0]
    assert index.search(query, "image", k=1)[0].name == "red"
    assert torch.allclose(index.vector("blue").norm(), torch.tensor(1.0))


@pytest.fixture(scope="module")
def minilm():
    from anypix.models.encoders import MiniLMEncoder

    return MiniLMEncoder()


def test_minilm_loads_offline_and_embeds_unit_vectors(minilm) -> None:
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest: any Hub call would fail
    vectors = minilm.embed(
        ["a red car on the road", "a crimson automobile on a street", "a sleeping cat"], "text"
    )
    assert vectors.shape == (3, 384)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.3
    with pytest.raises(AnypixError, match="cannot embed image"):
        minilm.embed([Image.new("RGB", (4, 4))], "image")


def test_minilm_finds_generated_scenes_from_paraphrased_descriptions(
    minilm, tmp_path: Path
) -> None:
    bench = _benchmark_module()
    result = bench.retrieval_accuracy(minilm, tmp_path, count=60)
    assert result["queries"] == 120
    assert result["top1"] >= 0.95
    assert result["resolve_wrong"] <= 0.05  # most uncertain ones are reported, not guessed


def test_a_large_index_still_ranks_the_nearest_vector_first(tmp_path: Path) -> None:
    from anypix.tools.retrieve import HALF_PRECISION_ABOVE

    index = SessionIndex(BagOfWordsEncoder(dim=32, modalities=("image",)), cache_root=tmp_path)
    vectors = torch.nn.functional.normalize(torch.randn(HALF_PRECISION_ABOVE + 500, 32), dim=-1)
    for i, vector in enumerate(vectors):
        index.add_embedding(f"a{i}", vector, "image")
    for target in (3, 12_345, HALF_PRECISION_ABOVE + 499):
        hits = index.search(vectors[target] + 0.05 * torch.randn(32), "image", k=3)
        assert hits[0].name == f"a{target}"
        assert hits[0].score > hits[1].score


def test_re_adding_a_name_drops_its_old_caption(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.add("photo", Image.new("RGB", (8, 8), "red"), "image")  # now without a caption
    hits = index.search("a red car parked on a street", "image", k=5)
    assert "photo" not in [h.name for h in hits]
