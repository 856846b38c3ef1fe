"""Training-free regional masking: blob tokens reach only their ellipse; removal is exact."""

from __future__ import annotations

import torch

from anypix.models.blob import blob_masks
from anypix.models.regional import RegionalAttnProcessor
from anypix.plan import Blob, Box, EditPlan, Op
from anypix.tools.layout import grounding

BLOB = Blob(description="a bright red apple", cx=0.3, cy=0.6, a=0.22, b=0.16, angle=20)


def plan_with(*blobs: Blob, boxes: tuple[Box, ...] = ()) -> EditPlan:
    return EditPlan(
        ops=[Op(op="generate")], gen="a still life", blobs=list(blobs), boxes=list(boxes)
    )


def test_processors_are_installed_on_cross_attention_only_and_restored_exactly(
    components, encode_text
):
    unet = components["unet"]
    before = dict(unet.attn_processors)
    with grounding(
        components, plan_with(BLOB), height=64, width=64, do_cfg=True, encode_text=encode_text
    ) as hooks:
        assert hooks.mode == "regional"
        during = unet.attn_processors
        for name, proc in during.items():
            if name.endswith("attn2.processor"):
                assert isinstance(proc, RegionalAttnProcessor) and proc.base is before[name]
            else:
                assert proc is before[name]
    after = unet.attn_processors
    assert after.keys() == before.keys()
    assert all(after[name] is before[name] for name in before)


def test_a_plan_without_layout_installs_nothing(components, encode_text):
    unet = components["unet"]
    before = dict(unet.attn_processors)
    with grounding(
        components, plan_with(), height=64, width=64, do_cfg=True, encode_text=encode_text
    ) as hooks:
        assert hooks.mode == "none" and hooks.cross_attention_kwargs == {}
        hooks.before_step(0, 4)
        assert all(unet.attn_processors[name] is proc for name, proc in before.items())


@torch.no_grad()
def test_cross_attention_changes_only_inside_the_blob_and_only_for_the_conditional_half(
    components, encode_text
):
    unet = components["unet"]
    attn = unet.down_blocks[1].attentions[0].transformer_blocks[0].attn2
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 16 * 16, attn.query_dim, generator=g)
    context = encode_text(["", "a still life"])
    plain = attn(hidden, encoder_hidden_states=context)
    with grounding(
        components, plan_with(BLOB), height=64, width=64, do_cfg=True, encode_text=encode_text
    ):
        regional = attn(hidden, encoder_hidden_states=context)
    inside = blob_masks([BLOB], 16, 16)[0].flatten()
    assert not regional.isnan().any()
    torch.testing.assert_close(regional[0], plain[0], rtol=0, atol=1e-6)  # unconditional half
    torch.testing.assert_close(regional[1, ~inside], plain[1, ~inside], rtol=0, atol=1e-6)
    assert ((regional[1, inside] - plain[1, inside]).abs().sum(-1) > 1e-4).all()


def test_a_blob_changes_the_render_inside_its_ellipse_more_than_outside(
    components, encode_text, sample
):
    plain = sample(components, encode_text, "a still life", steps=3)
    with grounding(
        components, plan_with(BLOB), height=64, width=64, do_cfg=True, encode_text=encode_text
    ) as hooks:
        grounded = sample(components, encode_text, "a still life", hooks=hooks, steps=3)
    change = (grounded - plain).abs().mean(dim=1)[0]  # per latent pixel, 32x32
    inside = blob_masks([BLOB], 32, 32)[0]
    ratio = float(change[inside].mean() / change[~inside].mean())
    with torch.no_grad():
        vae = components["vae"]
        pixels = [
            vae.decode(latents / vae.config.scaling_factor).sample for latents in (plain, grounded)
        ]
    pixel_change = (pixels[1] - pixels[0]).abs().mean(dim=1)[0]  # 64x64
    pixel_inside = blob_masks([BLOB], 64, 64)[0]
    pixel_ratio = float(pixel_change[pixel_inside].mean() / pixel_change[~pixel_inside].mean())
    print(
        f"regional blob locality ratio, mean |change| inside / outside: latents {ratio:.2f}, pixels {pixel_ratio:.2f}"
    )
    assert ratio > 2.0 and pixel_ratio > 1.5


def test_boxes_are_grounded_as_inscribed_ellipses(components, encode_text, sample):
    box = Box(phrase="a green pear", x0=0.55, y0=0.1, x1=0.95, y1=0.45)
    plain = sample(components, encode_text, "a still life", steps=2)
    plan = plan_with(boxes=(box,))
    with grounding(
        components, plan, height=64, width=64, do_cfg=True, encode_text=encode_text
    ) as hooks:
        assert hooks.mode == "regional"
        grounded = sample(components, encode_text, "a still life", hooks=hooks, steps=2)
    change = (grounded - plain).abs().mean(dim=1)[0]
    inside = torch.zeros(32, 32, dtype=torch.bool)
    inside[3:15, 17:31] = True
    assert change[inside].mean() > 2 * change[~inside].mean()
