"""StyleAligned: the processor against a literal reading of the method, the guidance batch layout,
sharing disabled == plain, the reference row untouched, and exact removal."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from anypix.models.attention import (
    BatchLayout,
    StyleAlignedAttnProcessor,
    StyleAlignedOptions,
    shared_group_norm,
    style_aligned,
)
from anypix.tools.style import generate_style_batch

OFF = StyleAlignedOptions(
    share_group_norm=False, share_layer_norm=False, share_attention=False,
    adain_queries=False, adain_keys=False, adain_values=False,
)  # fmt: skip
PROMPTS = ["a watercolor of a cat", "a dog", "a house"]


def _literal_shared_attention(
    attn: Any, hidden: torch.Tensor, groups: int, opts: StyleAlignedOptions
) -> torch.Tensor:
    """StyleAligned as the paper writes it, every row treated alike: AdaIN to the half's row 0,
    keys/values concatenated with row 0's (scaled, shifted), explicit softmax."""
    batch, tokens, _ = hidden.shape
    per_half = batch // groups
    heads = lambda x: x.unflatten(-1, (attn.heads, -1)).transpose(1, 2)  # noqa: E731
    q, k, v = heads(attn.to_q(hidden)), heads(attn.to_k(hidden)), heads(attn.to_v(hidden))
    ref = [g * per_half for g in range(groups) for _ in range(per_half)]

    def adain(x: torch.Tensor) -> torch.Tensor:
        mean, std = x.mean(-2, keepdim=True), (x.var(-2, keepdim=True) + 1e-5).sqrt()
        return (x - mean) / std * std[ref] + mean[ref]

    q = adain(q) if opts.adain_queries else q
    k = adain(k) if opts.adain_keys else k
    v = adain(v) if opts.adain_values else v
    is_ref = torch.tensor([i % per_half == 0 for i in range(batch)]).view(-1, 1, 1, 1)
    shared_k = torch.where(is_ref, k[ref], k[ref] * opts.shared_score_scale)
    keys, values = torch.cat([k, shared_k], -2), torch.cat([v, v[ref]], -2)
    logits = q @ keys.transpose(-1, -2) * attn.scale
    logits[..., tokens:] += opts.shared_score_shift
    out = (logits.softmax(-1) @ values).transpose(1, 2).flatten(2)
    return attn.to_out[1](attn.to_out[0](out))


@pytest.fixture
def attn(engine: Any) -> Any:
    return engine.unet.down_blocks[1].attentions[0].transformer_blocks[0].attn1


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize(
    "opts",
    [
        StyleAlignedOptions(),
        StyleAlignedOptions(adain_values=True, shared_score_scale=1.3, shared_score_shift=0.7),
        StyleAlignedOptions(adain_queries=False, adain_keys=False),
    ],
)
def test_processor_matches_the_literal_method(
    attn: Any, groups: int, opts: StyleAlignedOptions
) -> None:
    hidden = torch.randn(6, 16, 64, generator=torch.Generator().manual_seed(0))
    processor = StyleAlignedAttnProcessor(opts, BatchLayout(groups=groups))
    with torch.inference_mode():
        got, want = processor(attn, hidden), _literal_shared_attention(attn, hidden, groups, opts)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_full_attention_share_joins_each_half_into_one_sequence(attn: Any) -> None:
    hidden = torch.randn(4, 16, 64, generator=torch.Generator().manual_seed(1))
    processor = StyleAlignedAttnProcessor(
        StyleAlignedOptions(full_attention_share=True), BatchLayout(2)
    )
    with torch.inference_mode():
        got = processor(attn, hidden)
        joined = attn.processor(attn, hidden.reshape(2, 32, 64)).reshape(4, 16, 64)
    assert torch.allclose(got, joined, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_shared_group_norm_equals_normalising_the_concatenation(dtype: torch.dtype) -> None:
    norm = nn.GroupNorm(4, 16)
    nn.init.normal_(norm.weight), nn.init.normal_(norm.bias)
    x = torch.randn(6, 16, 5, 5, generator=torch.Generator().manual_seed(2)) * 3 + 1
    norm, x = norm.to(dtype), x.to(dtype)
    with shared_group_norm([norm], BatchLayout(groups=2)):
        shared = norm(x)
    assert "forward" not in vars(norm)  # the layer's own forward is back
    norm, x, shared = norm.float(), x.float(), shared.float()
    if dtype != torch.float32:  # statistics in float32, the output rounded once more
        reference = norm(torch.cat([x, x[[0, 0, 0, 3, 3, 3]]], dim=-2))[..., :5, :]
        assert torch.allclose(shared, reference, atol=0.1, rtol=0.02)
        return
    with_ref = torch.cat([x, x[[0, 0, 0, 3, 3, 3]]], dim=-2)  # the reference implementation's way
    assert torch.allclose(shared, norm(with_ref)[..., :5, :], atol=1e-5)
    assert torch.equal(shared[[0, 3]], norm(x)[[0, 3]])  # reference rows keep their own output


def test_layer_norm_sharing_is_the_identity_so_nothing_is_installed() -> None:
    norm = nn.LayerNorm(16)
    x, ref = torch.randn(3, 10, 16), torch.randn(3, 10, 16)
    # Normalising [tokens; reference tokens] per token and keeping the first half changes nothing.
    assert torch.equal(norm(torch.cat([x, ref], dim=-2))[:, :10], norm(x))


def _batch(
    engine: Any, options: StyleAlignedOptions | None, prompts: list[str] = PROMPTS
) -> torch.Tensor:
    with torch.inference_mode():
        return generate_style_batch(engine, prompts, steps=2, guidance=7.5, seed=5, size=(64, 64),
                                    options=options)  # fmt: skip


def test_sharing_disabled_equals_the_plain_pipeline(private_engine: Any) -> None:
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    plain = _batch(private_engine, None)
    assert torch.equal(_batch(private_engine, OFF), plain)
    pipe = StableDiffusionPipeline(
        unet=private_engine.unet, vae=private_engine.vae, text_encoder=private_engine.text_encoder,
        tokenizer=private_engine.tokenizer, scheduler=DDIMScheduler.from_config(private_engine.scheduler.config),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    # The constructor rewrites steps_offset; put back the very schedule the engine samples with.
    pipe.scheduler = DDIMScheduler.from_config(private_engine.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    noise = torch.randn(3, 4, 32, 32, generator=torch.Generator("cpu").manual_seed(5))
    with torch.inference_mode():
        diffusers_latents = pipe(PROMPTS, num_inference_steps=2, guidance_scale=7.5, latents=noise,
                                 output_type="latent").images  # fmt: skip
    assert torch.allclose(plain, diffusers_latents, atol=1e-5)


def test_the_reference_row_is_unchanged_and_the_others_change(private_engine: Any) -> None:
    plain, shared = _batch(private_engine, None), _batch(private_engine, StyleAlignedOptions())
    assert torch.allclose(shared[0], plain[0], atol=1e-5)
    assert (shared[1:] - plain[1:]).abs().mean() > 1e-3
    alone = _batch(private_engine, StyleAlignedOptions(), PROMPTS[:1])
    # A batch of one shares with nobody (other batch sizes round differently, hence the rtol).
    assert torch.allclose(alone[0], plain[0], rtol=1e-4, atol=1e-4)


def test_each_guidance_half_shares_with_its_own_reference(attn: Any) -> None:
    """Batch [uncond_ref, uncond_1, cond_ref, cond_1]: changing the cond reference changes cond_1
    only; the uncond half neither sees it nor changes."""
    hidden = torch.randn(4, 16, 64, generator=torch.Generator().manual_seed(3))
    other = hidden.clone()
    other[2] = torch.randn(16, 64, generator=torch.Generator().manual_seed(4))
    processor = StyleAlignedAttnProcessor(StyleAlignedOptions(), BatchLayout(groups=2))
    with torch.inference_mode():
        first, second = processor(attn, hidden), processor(attn, other)
    assert torch.equal(first[:2], second[:2])
    assert (first[3] - second[3]).abs().max() > 1e-3


def test_removal_restores_processors_and_hooks_exactly(private_engine: Any) -> None:
    unet = private_engine.unet
    before = dict(unet.attn_processors)
    hooks_before = {name: dict(m._forward_hooks) for name, m in unet.named_modules()}
    reference_output = _batch(private_engine, None)
    with style_aligned(unet, StyleAlignedOptions(only_self_level=0.5)):
        inside = unet.attn_processors
        shared = [n for n, p in inside.items() if isinstance(p, StyleAlignedAttnProcessor)]
        assert 0 < len(shared) < sum(n.endswith("attn1.processor") for n in inside)
        assert all(inside[n] is before[n] for n in inside if n.endswith("attn2.processor"))
    after = unet.attn_processors
    assert after.keys() == before.keys() and all(after[n] is before[n] for n in before)
    assert {name: dict(m._forward_hooks) for name, m in unet.named_modules()} == hooks_before
    assert torch.equal(_batch(private_engine, None), reference_output)


def test_removal_happens_even_when_the_loop_raises(private_engine: Any) -> None:
    unet = private_engine.unet
    before = dict(unet.attn_processors)
    with pytest.raises(RuntimeError, match="boom"), style_aligned(unet):
        raise RuntimeError("boom")
    assert all(unet.attn_processors[n] is p for n, p in before.items())
    assert not any(m._forward_hooks for m in unet.modules())
