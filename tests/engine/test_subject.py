"""Subject references: one interface over a model's own image tokens and IP-Adapter."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from anypix.config import Settings
from anypix.errors import NotAvailableError
from anypix.models.diffusion import Conditioning, load_components
from anypix.tools.render import render
from anypix.tools.subject import (
    SubjectDescriber,
    SubjectTokenEncoder,
    described_subjects,
    load_ip_adapter,
    subject_conditioning,
)

from .conftest import make_plan, pixels

TOKENS = 2


class ColourTokens:
    """A stand-in for the miniworld model's image tokens: a fixed projection of mean colour."""

    def __init__(self) -> None:
        self.proj = 10 * torch.randn(3, TOKENS * 32, generator=torch.Generator().manual_seed(0))

    def encode_subjects(self, images: Sequence[Any]) -> torch.Tensor:
        colours = torch.tensor(
            np.stack([np.asarray(i, dtype=np.float32).mean((0, 1)) / 255 for i in images])
        )
        return (colours @ self.proj).view(len(images), TOKENS, 32)

    def null_tokens(self, subjects: int) -> torch.Tensor:
        return torch.zeros(subjects, TOKENS, 32)


def test_the_fake_encoder_fits_the_interface() -> None:
    assert isinstance(ColourTokens(), SubjectTokenEncoder)


class DescribedColourTokens(ColourTokens):
    """Colour tokens that also name the subject's dominant channel."""

    def describe(self, images: Sequence[Any]) -> list[str]:
        names = ("a red ball", "a green ball", "a blue ball")
        return [names[int(np.asarray(i).reshape(-1, 3).mean(0).argmax())] for i in images]


def test_a_describing_encoder_writes_its_words_into_the_plan(engine: Any, base_image: Any) -> None:
    from PIL import Image

    red, blue = Image.new("RGB", (8, 8), (200, 20, 20)), Image.new("RGB", (8, 8), (0, 0, 230))
    blob = "{major-radius: 90px; minor-radius: 60px; cx: 128px; cy: 256px; angle: 0}"
    plan = make_plan(
        "[base] scene", "[sub] tone", "[sub] ref", "[gen] with tone and the ref",
        f'[blob] tone {blob} "tone"', f'[blob] ref {blob} "a large ref"', "[op] add tone ref=tone",
    )  # fmt: skip
    describing = dataclasses.replace(engine, subject_encoder=DescribedColourTokens())
    assert isinstance(describing.subject_encoder, SubjectDescriber)

    described, words = described_subjects(plan, {"tone": red, "ref": blue}, describing)
    assert words == {"tone": "a red ball", "ref": "a blue ball"}
    assert described.gen == "with red ball and a blue ball"
    assert [b.description for b in described.blobs] == ["a red ball", "a large blue ball"]
    assert [b.label for b in described.blobs] == ["tone", "ref"] and described.ops == plan.ops
    # an encoder that only makes tokens leaves the plan as it is
    tokens_only = dataclasses.replace(engine, subject_encoder=ColourTokens())
    assert described_subjects(plan, {"tone": red, "ref": blue}, tokens_only) == (plan, {})


def test_tokens_go_to_conditional_rows_only(engine: Any, base_image: Any) -> None:
    with_tokens = dataclasses.replace(engine, subject_encoder=ColourTokens())
    subjects = subject_conditioning(with_tokens, [base_image, base_image])
    assert subjects.method == "tokens" and subjects.cond.shape == (1, 2 * TOKENS, 32)
    text = Conditioning(
        hidden=torch.ones(4, 77, 32), do_cfg=True
    )  # [uncond_ref, uncond, cond_ref, cond]
    joined = subjects.apply(text, skip_rows=[0]).hidden
    assert joined.shape == (4, 77 + 2 * TOKENS, 32)
    assert torch.equal(joined[:, :77], text.hidden)
    assert not joined[:3, 77:].any()  # uncond rows and the reference row get null tokens
    assert torch.equal(joined[3, 77:], subjects.cond[0])


def test_a_subject_changes_the_render_and_its_colour_matters(
    engine: Any, base_image: Any, style_image: Any
) -> None:
    with_tokens = dataclasses.replace(engine, subject_encoder=ColourTokens())
    knobs = "[knobs] steps=2 seed=1 size=64x64"
    plain = render(make_plan("[gen] a pet", "[op] generate", knobs), {}, with_tokens)
    plan = make_plan("[sub] pet", "[gen] a pet", "[op] generate ref=pet", knobs)
    first = render(plan, {"pet": base_image}, with_tokens)
    second = render(plan, {"pet": style_image}, with_tokens)
    assert first.provenance.knobs["subjects"] == "tokens"
    assert np.abs(pixels(first.images[0]) - pixels(plain.images[0])).mean() > 0.5
    assert np.abs(pixels(first.images[0]) - pixels(second.images[0])).mean() > 0.5


def _tiny_ip_adapter(unet: Any) -> tuple[dict[str, Any], Any, Any]:
    """Random IP-Adapter weights in the published checkpoint layout, and a tiny CLIP vision tower."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    generator = torch.Generator().manual_seed(0)
    cross = [n for n in unet.attn_processors if n.endswith("attn2.processor")]
    ip_layers = {}
    for index in range(len(cross)):
        for kind in ("to_k_ip", "to_v_ip"):
            ip_layers[f"{2 * index + 1}.{kind}.weight"] = (
                torch.randn(64, 32, generator=generator) * 0.2
            )
    image_proj = {"proj.weight": torch.randn(4 * 32, 32, generator=generator) * 0.2,
                  "proj.bias": torch.zeros(4 * 32), "norm.weight": torch.ones(32),
                  "norm.bias": torch.zeros(32)}  # fmt: skip
    torch.manual_seed(0)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, image_size=32, patch_size=8,
    ))  # fmt: skip
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    return {"image_proj": image_proj, "ip_adapter": ip_layers}, encoder, processor


def test_ip_adapter_path_through_diffusers_loader(base_image: Any, style_image: Any) -> None:
    own = load_components("tiny-random", settings=Settings(device="cpu", model_paths={}))
    state, encoder, processor = _tiny_ip_adapter(own.unet)
    load_ip_adapter(own, state, image_encoder=encoder, feature_extractor=processor)
    kinds = {
        type(p).__name__
        for n, p in own.unet.attn_processors.items()
        if n.endswith("attn2.processor")
    }
    assert kinds == {"IPAdapterAttnProcessor2_0"}
    knobs = "[knobs] steps=2 seed=1 size=64x64"
    plan = make_plan("[sub] pet", "[gen] a pet", "[op] generate ref=pet", knobs)
    first, second = render(plan, {"pet": base_image}, own), render(plan, {"pet": style_image}, own)
    assert first.provenance.knobs["subjects"] == "ip-adapter"
    assert np.abs(pixels(first.images[0]) - pixels(second.images[0])).mean() > 0.1


def test_presets_without_subject_support_say_so(engine: Any, base_image: Any) -> None:
    plan = make_plan("[sub] pet", "[gen] a pet", "[op] generate ref=pet", "[knobs] steps=2")
    with pytest.raises(NotAvailableError, match="IP-Adapter"):
        render(plan, {"pet": base_image}, engine)
