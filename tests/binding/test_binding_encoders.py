"""The encoder registry (its own encoders and the model families'), and the tools' registration."""

from __future__ import annotations

import pytest

from anypix.errors import ModelUnavailableError
from anypix.models import encoders
from tests.binding.fakes import BagOfWordsEncoder


def test_unknown_encoder_names_the_choices() -> None:
    with pytest.raises(ModelUnavailableError, match="minilm"):
        encoders.load_encoder("clip-xxl")


def test_encoders_are_built_once_per_settings() -> None:
    first = encoders.load_encoder("imagebind-tiny")
    assert encoders.load_encoder("imagebind-tiny") is first
    assert first.encoder_id == "imagebind-tiny-seed0" and first.dim == 16


def test_imagebind_huge_without_a_checkpoint_says_how_to_point_at_one() -> None:
    with pytest.raises(ModelUnavailableError, match=r"model_paths\.imagebind-huge"):
        encoders.load_encoder("imagebind-huge")


def test_a_model_familys_encoder_is_loaded_by_name() -> None:
    from anypix.models.registry import families

    encoder = encoders.load_encoder("miniworld")  # the miniworld family brings it
    assert "miniworld" in families()["miniworld"].encoders
    assert encoder.encoder_id.startswith("miniworld-binding-")
    assert encoders.load_encoder("miniworld") is encoder


def test_register_encoder_adds_a_factory() -> None:
    fake = BagOfWordsEncoder(encoder_id="custom")
    encoders.register_encoder("custom-test", lambda settings: fake)
    try:
        assert encoders.load_encoder("custom-test").embed(["hi"], "text").shape == (1, 64)
    finally:
        encoders.ENCODER_FACTORIES.pop("custom-test")


def test_binding_tools_are_registered_with_schemas() -> None:
    from anypix.tools.registry import get

    for name, required in (("embed", []), ("retrieve", ["query"]), ("refine", ["gen"])):
        schema = get(name).parameters
        assert schema["required"] == required
        assert not [p for p in schema["properties"] if p.startswith("_")]
    assert "mix_prior" in get("refine").parameters["properties"]
