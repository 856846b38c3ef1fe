"""The engine's tools in the one tool table: schemas from signatures, and the tools run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from anypix.errors import UserError
from anypix.models.diffusion import encode_image
from anypix.tools.registry import function_schemas, get


def test_engine_tools_are_registered_with_typed_schemas() -> None:
    render, invert, stylize = get("render"), get("invert"), get("stylize")
    assert render.parameters["required"] == ["plan", "assets", "output"]
    assert render.parameters["properties"]["assets"]["type"] == "object"
    assert "_models" not in render.parameters["properties"]
    assert invert.parameters["required"] == ["image"]
    assert invert.parameters["properties"]["steps"]["default"] == 50
    assert stylize.parameters["properties"]["prompts"]["type"] == "array"
    for tool in (render, invert, stylize):
        assert tool.description and all(
            "description" in schema for schema in tool.parameters["properties"].values()
        ), tool.name


def test_the_table_is_json_with_defaults_as_json_values() -> None:
    import json

    schemas = json.loads(json.dumps(function_schemas()))  # a Path default used to break this
    stylize = next(s for s in schemas if s["function"]["name"] == "stylize")["function"]
    assert stylize["parameters"]["properties"]["output_dir"]["default"] == "."
    assert stylize["parameters"]["additionalProperties"] is False


def test_arguments_are_validated_into_the_functions_types() -> None:
    render = get("render")
    given = {"plan": "[gen] a dog\n[op] generate a dog", "assets": {}, "output": "out.png"}
    assert render.validate(given)["output"] == Path("out.png")
    assert get("invert").validate({"image": "a.png"})["steps"] == 50  # defaults filled in
    with pytest.raises(UserError, match="invert: steps: input should be a valid integer"):
        get("invert").validate({"image": "a.png", "steps": "many"})
    with pytest.raises(UserError, match="extra inputs are not permitted"):
        get("invert").validate({"image": "a.png", "colour": "red"})


def test_invert_tool_saves_a_trajectory_that_rebuilds_the_latent(
    engine: Any, base_image: Any, tmp_path: Path
) -> None:
    source = tmp_path / "photo.png"
    base_image.save(source)
    report = get("invert")(image=source, prompt="a gradient", steps=4, _models=engine)
    saved = torch.load(report["trajectory"])
    assert len(saved["latents"]) == 5 and saved["preset"] == "tiny-random"
    with torch.inference_mode():
        clean = encode_image(engine, base_image, engine.default_size)
    assert torch.equal(saved["latents"][0], clean)  # the trajectory starts at the image's latent
    assert report["latent_reconstruction_error"] >= 0


def test_stylize_tool_writes_one_image_per_prompt(
    engine: Any, style_image: Any, tmp_path: Path
) -> None:
    reference = tmp_path / "paint.png"
    style_image.save(reference)
    paths = get("stylize")(prompts=["a cat", "a dog"], style_ref=reference, steps=2,
                           output_dir=tmp_path / "out", _models=engine)  # fmt: skip
    assert [Path(p).name for p in paths] == ["style_0.png", "style_1.png"]
    assert all(Path(p).exists() for p in paths)
