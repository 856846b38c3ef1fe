"""GLIGEN box grounding through diffusers' gated self-attention, with scheduled sampling."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from anypix.plan import Blob, Box, EditPlan, Knobs, Op
from anypix.tools.layout import GLIGEN_MAX_OBJECTS, grounding

BOX = Box(phrase="a yellow kite", x0=0.1, y0=0.1, x1=0.5, y1=0.4)
BLOB = Blob(description="a red ball", cx=0.7, cy=0.7, a=0.2, b=0.1, angle=0)


@pytest.fixture(scope="module")
def gligen_unet() -> torch.nn.Module:
    """A tiny GLIGEN UNet (attention_type="gated") with its gates opened so grounding shows."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=16,
        attention_type="gated",
    ).eval()
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if name.endswith(("alpha_attn", "alpha_dense")):
                param.fill_(1.0)
    return unet


def gligen_components(tiny_components: dict[str, Any], unet: torch.nn.Module) -> dict[str, Any]:
    return {**tiny_components, "unet": copy.deepcopy(unet)}


def fusers(unet: torch.nn.Module) -> list[torch.nn.Module]:
    from diffusers.models.attention import GatedSelfAttentionDense

    return [m for m in unet.modules() if isinstance(m, GatedSelfAttentionDense)]


@torch.no_grad()
def test_grounding_is_on_for_the_first_beta_steps_then_off(
    tiny_components, gligen_unet, encode_text
):
    components = gligen_components(tiny_components, gligen_unet)
    unet, steps = components["unet"], 4
    plan = EditPlan(ops=[Op(op="generate")], gen="a park", boxes=[BOX], knobs=Knobs(beta=0.5))
    g = torch.Generator().manual_seed(1)
    sample, context = torch.randn(2, 4, 32, 32, generator=g), encode_text(["", "a park"])
    plain = unet(sample, 500, encoder_hidden_states=context).sample
    grounded_steps = []
    with grounding(
        components, plan, height=64, width=64, do_cfg=True, encode_text=encode_text
    ) as hooks:
        assert hooks.mode == "gligen"
        for i in range(steps):
            hooks.before_step(i, steps)
            out = unet(
                sample,
                500,
                encoder_hidden_states=context,
                cross_attention_kwargs=hooks.cross_attention_kwargs,
            )
            differs = not torch.equal(out.sample, plain)
            grounded_steps.append(differs)
            assert differs == hooks.active
            assert all(f.enabled == hooks.active for f in fusers(unet))
    assert grounded_steps == [True, True, False, False]  # beta 0.5 of 4 steps
    # nothing left behind: no hooks, fusers enabled as before
    assert not unet._forward_pre_hooks
    assert all(f.enabled for f in fusers(unet))
    assert torch.equal(unet(sample, 500, encoder_hidden_states=context).sample, plain)


@torch.no_grad()
def test_boxes_and_blob_bounding_boxes_reach_the_position_net(
    tiny_components, gligen_unet, encode_text
):
    components = gligen_components(tiny_components, gligen_unet)
    unet = components["unet"]
    seen: dict[str, torch.Tensor] = {}
    unet.position_net.register_forward_hook(lambda m, a, kw, out: seen.update(kw), with_kwargs=True)
    plan = EditPlan(
        ops=[Op(op="generate")], gen="a park", boxes=[BOX], blobs=[BLOB], knobs=Knobs(beta=1.0)
    )
    sample, context = torch.randn(4, 4, 32, 32), encode_text(["", "", "a park", "a park"])
    with grounding(
        components, plan, height=64, width=96, do_cfg=True, encode_text=encode_text
    ) as hooks:
        hooks.before_step(0, 2)
        unet(
            sample,
            500,
            encoder_hidden_states=context,
            cross_attention_kwargs=hooks.cross_attention_kwargs,
        )
    assert seen["boxes"].shape == (4, GLIGEN_MAX_OBJECTS, 4)
    expected = torch.tensor([BOX.xyxy(), BLOB.bbox(96, 64).xyxy()], dtype=torch.float32)
    torch.testing.assert_close(seen["boxes"][3, :2], expected)
    # the unconditional half sees only null objects; the conditional half sees two objects
    assert seen["masks"][:2].sum() == 0
    assert seen["masks"][2:].sum(dim=1).tolist() == [2.0, 2.0]
    # phrase embeddings are the text encoder's pooled output of each phrase
    tokenizer, text_encoder = components["tokenizer"], components["text_encoder"]
    pooled = text_encoder(**tokenizer([BOX.phrase], return_tensors="pt")).pooler_output[0]
    torch.testing.assert_close(seen["positive_embeddings"][2, 0], pooled)


@pytest.mark.parametrize(("beta", "expected"), [(0.0, 0), (0.3, 3), (1.0, 10)])
def test_beta_sets_how_many_steps_are_grounded(
    tiny_components, gligen_unet, encode_text, beta, expected
):
    components = gligen_components(tiny_components, gligen_unet)
    plan = EditPlan(ops=[Op(op="generate")], gen="a park", boxes=[BOX], knobs=Knobs(beta=beta))
    on_steps = []
    with grounding(
        components, plan, height=64, width=64, do_cfg=False, encode_text=encode_text
    ) as hooks:
        for i in range(10):
            hooks.before_step(i, 10)
            if hooks.active:
                on_steps.append(i)
            assert all(f.enabled == hooks.active for f in fusers(components["unet"]))
    assert on_steps == list(range(expected))  # diffusers' rule: the first int(beta * steps) steps
