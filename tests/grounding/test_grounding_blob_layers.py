"""BlobGEN layers: zero gates change nothing, masking is exact, weights live in the state dict."""

from __future__ import annotations

import copy

import pytest
import torch

from anypix.models.blob import (
    BlobBatch,
    BlobLayerConfig,
    MaskedCrossAttention,
    add_blob_layers,
    blob_geometry,
    blob_masks,
    get_blob_layers,
    remove_blob_layers,
)
from anypix.plan import Blob, EditPlan, Op
from anypix.tools.layout import grounding

LEFT = Blob(description="a red ball", cx=0.25, cy=0.5, a=0.2, b=0.15, angle=30)
RIGHT = Blob(description="a blue cube", cx=0.75, cy=0.4, a=0.18, b=0.1, angle=100)
CONFIG = BlobLayerConfig(text_dim=32, embed_dim=32, num_freqs=4, mlp_dim=64)


def unet_inputs(seed: int = 0, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch, 4, 32, 32, generator=g)
    context = torch.randn(batch, 77, 32, generator=g)
    return sample, torch.tensor(500), context


def blob_batch(blobs: list[Blob], encode_text) -> BlobBatch:
    embeddings = encode_text([b.description for b in blobs])
    mask = torch.ones(embeddings.shape[:2], dtype=torch.bool)
    return BlobBatch.from_blobs(blobs, embeddings, mask, 64, 64)


def open_gates(unet: torch.nn.Module, seed: int = 3) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in get_blob_layers(unet).layers.values():
            layer.gate.fill_(0.5)
            layer.to_out.weight.normal_(0, 0.5, generator=g)


@torch.no_grad()
def test_untrained_layers_leave_the_unet_output_bit_for_bit_unchanged(components, encode_text):
    unet = components["unet"]
    sample, t, context = unet_inputs()
    plain = unet(sample, t, encoder_hidden_states=context).sample
    grounding_layers = add_blob_layers(unet, CONFIG)
    # one per transformer block with cross-attention: down, mid and two up blocks
    assert len(grounding_layers.layers) == 4
    with grounding_layers.conditioned(blob_batch([LEFT, RIGHT], encode_text)):
        grounded = unet(sample, t, encoder_hidden_states=context).sample
    assert torch.equal(grounded, plain)
    # and through the render's contract, which picks the trained layers when the UNet has them
    plan = EditPlan(ops=[Op(op="generate")], gen="toys", blobs=[LEFT, RIGHT])
    with grounding(
        components, plan, height=64, width=64, do_cfg=True, encode_text=encode_text
    ) as hooks:
        assert hooks.mode == "blob_layers"
        again = unet(
            sample,
            t,
            encoder_hidden_states=context,
            cross_attention_kwargs=hooks.cross_attention_kwargs,
        ).sample
    assert torch.equal(again, plain)


def test_pixels_outside_every_blob_get_exactly_zero_update_and_no_nan():
    torch.manual_seed(0)
    layer = MaskedCrossAttention(query_dim=16, context_dim=8, heads=2)
    with torch.no_grad():
        layer.gate.fill_(1.0)
    hidden = torch.randn(2, 10, 16)
    tokens = torch.randn(2, 6, 8)
    allowed = torch.zeros(2, 10, 6, dtype=torch.bool)
    allowed[0, :4, :3] = True  # pixels 0-3 of image 0 are inside blob A (tokens 0-2)
    allowed[1, 5:, 3:] = True  # pixels 5-9 of image 1 are inside blob B (tokens 3-5)
    out = layer(hidden, tokens, allowed)
    assert not out.isnan().any()
    covered = allowed.any(-1)
    assert torch.count_nonzero(out[~covered]) == 0
    assert (out[covered].abs().sum(-1) > 0).all()
    # a token a pixel may not see has no influence on it
    changed = tokens.clone()
    changed[0, 3:] += 10.0
    changed[1, :3] += 10.0
    assert torch.equal(layer(hidden, changed, allowed), out)


def test_only_covered_rows_and_pixels_are_computed_with_the_same_result():
    """Pixels and batch rows no blob covers are skipped: the update of the rest is what the
    whole computation gives (each pixel's LayerNorm, projections and attention are its own)."""
    torch.manual_seed(1)
    layer = MaskedCrossAttention(query_dim=16, context_dim=8, heads=2)
    with torch.no_grad():
        layer.gate.fill_(0.7)
    hidden, tokens = torch.randn(3, 12, 16), torch.randn(3, 6, 8)
    allowed = torch.zeros(3, 12, 6, dtype=torch.bool)
    allowed[1, 2:7, :3] = True  # row 0 (an unconditional row) and row 2's other pixels: none
    allowed[2, 5:9, 3:] = True
    out = layer(hidden, tokens, allowed)
    # the whole computation, every row and pixel, by hand
    covered = allowed.any(-1)
    first = torch.zeros_like(allowed)
    first[..., 0] = True
    mask = allowed | (first & ~covered.unsqueeze(-1))
    q = layer.to_q(layer.norm(hidden)).view(3, 12, 2, 8).transpose(1, 2)
    k = layer.to_k(tokens).view(3, 6, 2, 8).transpose(1, 2)
    v = layer.to_v(tokens).view(3, 6, 2, 8).transpose(1, 2)
    attended = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask.unsqueeze(1))
    whole = layer.to_out(attended.transpose(1, 2).reshape(3, 12, 16)) * covered.unsqueeze(-1)
    assert torch.allclose(out, layer.gate.tanh() * whole, atol=1e-6)
    assert torch.count_nonzero(out[0]) == 0


def test_sampling_embeds_the_blob_tokens_once_per_conditioning_and_training_per_forward(
    components, encode_text
):
    unet = copy.deepcopy(components["unet"])
    grounding = add_blob_layers(unet, CONFIG)
    calls = []
    grounding.embedding.register_forward_hook(lambda *_: calls.append(1))
    sample, _, context = unet_inputs(batch=1)
    with grounding.conditioned(blob_batch([LEFT, RIGHT], encode_text)):
        with torch.no_grad():
            for step in (900, 500, 100):
                unet(sample, step, encoder_hidden_states=context)
        assert len(calls) == 1
        for step in (900, 500):
            unet(sample, step, encoder_hidden_states=context)
        assert len(calls) == 3


@torch.no_grad()
def test_unet_blob_update_is_zero_outside_the_downsampled_ellipse(components, encode_text):
    unet = components["unet"]
    layers = add_blob_layers(unet, CONFIG)
    open_gates(unet)
    updates: dict[str, torch.Tensor] = {}
    for name in layers.layers:
        layers.layers[name].register_forward_hook(
            lambda m, a, out, name=name: updates.__setitem__(name, out)
        )
    sample, t, context = unet_inputs(batch=1)
    with layers.conditioned(blob_batch([LEFT], encode_text)):
        unet(sample, t, encoder_hidden_states=context)
    assert len(updates) == 4
    for update in updates.values():
        side = int(update.shape[1] ** 0.5)  # the tiny UNet attends at 16x16
        inside = blob_masks([LEFT], side, side)[0].flatten()
        assert 0 < int(inside.sum()) < side * side
        assert not update.isnan().any()
        assert torch.count_nonzero(update[0, ~inside]) == 0
        assert (update[0, inside].abs().sum(-1) > 0).all()


@torch.no_grad()
def test_cfg_leaves_the_unconditional_half_ungrounded(components, encode_text):
    unet = components["unet"]
    sample, t, context = unet_inputs()
    sample[1], context[1] = sample[0], context[0]  # the same image twice: [uncond, cond]
    plain = unet(sample, t, encoder_hidden_states=context).sample
    layers = add_blob_layers(unet, CONFIG)
    open_gates(unet)
    with layers.conditioned(blob_batch([LEFT], encode_text), cfg=True):
        out = unet(sample, t, encoder_hidden_states=context).sample
    assert torch.equal(out[0], plain[0])
    assert not torch.allclose(out[1], plain[1])


def test_blob_layers_are_trainable_saved_loaded_and_removable(components, encode_text):
    unet = components["unet"]
    reference = copy.deepcopy(unet)
    keys_before = set(unet.state_dict())
    layers = add_blob_layers(unet, CONFIG)
    new_keys = set(unet.state_dict()) - keys_before
    assert new_keys and all(key.startswith("blob_grounding.") for key in new_keys)
    assert any(key.endswith(".gate") for key in new_keys)

    # trainable: the gate (0 at start) receives a gradient through the UNet
    unet.requires_grad_(False)
    layers.requires_grad_(True)
    sample, t, context = unet_inputs(batch=1)
    with layers.conditioned(blob_batch([LEFT], encode_text)):
        unet(sample, t, encoder_hidden_states=context).sample.square().mean().backward()
    gates = [layer.gate.grad for layer in layers.layers.values()]
    assert all(g is not None and g.abs() > 0 for g in gates)

    open_gates(unet)
    with torch.no_grad(), layers.conditioned(blob_batch([LEFT], encode_text)):
        trained_out = unet(sample, t, encoder_hidden_states=context).sample
    # load into a fresh UNet with the same config
    fresh = copy.deepcopy(reference)
    fresh_layers = add_blob_layers(fresh, CONFIG)
    fresh.load_state_dict(unet.state_dict(), strict=True)
    with torch.no_grad(), fresh_layers.conditioned(blob_batch([LEFT], encode_text)):
        assert torch.equal(fresh(sample, t, encoder_hidden_states=context).sample, trained_out)

    # removal: the same keys, hooks and outputs as before
    remove_blob_layers(unet)
    assert get_blob_layers(unet) is None
    assert set(unet.state_dict()) == keys_before
    assert not unet._forward_pre_hooks
    assert all(not m._forward_hooks for m in unet.modules())
    with torch.no_grad():
        assert torch.equal(
            unet(sample, t, encoder_hidden_states=context).sample,
            reference(sample, t, encoder_hidden_states=context).sample,
        )
    with pytest.raises(ValueError, match="already has blob layers"):
        add_blob_layers(fresh, CONFIG)


def test_masks_follow_the_feature_map_sizes_of_a_non_square_canvas():
    from anypix.models.blob import feature_sizes, masks_at, tokens_to_size

    masks = blob_masks([LEFT, RIGHT], 520, 776)  # an SD canvas: latents 65x97, then 33x49, 17x25
    assert feature_sizes(520, 776)[65 * 97] == (65, 97)
    assert tokens_to_size(masks, 33 * 49) == (33, 49)
    small = masks_at(masks, (17, 25))
    assert small.shape == (2, 17, 25) and small.dtype == torch.bool
    # area is kept within a cell's worth of pixels per boundary cell
    for big, little in zip(masks, small, strict=True):
        assert abs(big.float().mean() - little.float().mean()) < 0.05
    with pytest.raises(ValueError, match="does not match"):
        tokens_to_size(masks, 1000)


@torch.no_grad()
def test_a_deep_copy_of_a_unet_with_blob_layers_drives_its_own_layers(components, encode_text):
    unet = components["unet"]
    add_blob_layers(unet, CONFIG)
    copied = copy.deepcopy(unet)
    open_gates(copied)  # only the copy's gates open
    sample, t, context = unet_inputs(batch=1)
    batch = blob_batch([LEFT], encode_text)
    with get_blob_layers(unet).conditioned(batch):
        original_out = unet(sample, t, encoder_hidden_states=context).sample
    with get_blob_layers(copied).conditioned(batch):
        copied_out = copied(sample, t, encoder_hidden_states=context).sample
        # the original's layers are not conditioned, so its hooks must not act on the copy's batch
    assert torch.equal(original_out, unet(sample, t, encoder_hidden_states=context).sample)
    assert not torch.allclose(copied_out, original_out)
    remove_blob_layers(copied)
    assert torch.equal(copied(sample, t, encoder_hidden_states=context).sample, original_out)


def test_conditioning_is_tiled_to_the_guidance_batch_layout(encode_text):
    two = blob_batch([LEFT], encode_text)
    two = BlobBatch(
        *(torch.cat([t, t.flip(0) if t.dtype == torch.bool else t + 1]) for t in two.tensors())
    )
    tiled = two.for_batch(4, cfg=True)  # [uncond0, uncond1, cond0, cond1]
    assert torch.equal(tiled.geometry[2], two.geometry[0]) and torch.equal(
        tiled.geometry[3], two.geometry[1]
    )
    assert not tiled.token_mask[:2].any() and torch.equal(tiled.token_mask[2:], two.token_mask)
    with pytest.raises(ValueError, match="cannot serve a batch of 3"):
        two.for_batch(3, cfg=False)


def test_blob_geometry_and_fourier_features():
    from anypix.models.blob import fourier_features

    upright = Blob(description="a tall vase", cx=0.5, cy=0.25, a=0.3, b=0.1, angle=90)
    geometry = blob_geometry([LEFT, upright])
    expected = torch.tensor([upright.cx, upright.cy, upright.a, upright.b, 1.0, 0.0])
    torch.testing.assert_close(geometry[1], expected, atol=1e-6, rtol=0)
    features = fourier_features(geometry, num_freqs=4)
    assert features.shape == (2, 6 * 2 * 4)
    # different blobs, different embeddings; the same blob, the same embedding
    assert not torch.allclose(features[0], features[1])
    torch.testing.assert_close(fourier_features(blob_geometry([LEFT]), 4)[0], features[0])
