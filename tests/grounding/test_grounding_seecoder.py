"""SeeCoder on a tiny config: shapes, the official checkpoint layout, image prompts in a UNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from anypix.models.seecoder import SeeCoder, SeeCoderConfig, load_seecoder, load_seecoder_state
from anypix.tools.image_prompt import image_prompt_context, unconditional_image_context

TINY = SeeCoderConfig(
    embed_dim=8,
    depths=(2, 2, 2, 2),
    num_heads=(1, 1, 2, 2),
    window_size=4,
    decoder_dim=16,
    decoder_heads=2,
    decoder_layers=1,
    decoder_ff_dim=32,
    norm_groups=4,
    hidden_dim=32,  # the tiny UNet's cross-attention width; != decoder_dim, so input_proj exists
    query_heads=2,
    query_layers=3,
    query_ff_dim=32,
)


def official_layout(cfg: SeeCoderConfig) -> dict[str, tuple[int, ...]]:
    """Key -> shape of an official checkpoint (``ctx.image.`` prefix), written out from the
    reference code's module tree (lib/model_zoo/{swin,seecoder}.py of SHI-Labs/Prompt-Free-Diffusion)."""
    keys: dict[str, tuple[int, ...]] = {}

    def linear(name: str, out: int, inp: int, bias: bool = True) -> None:
        keys[f"{name}.weight"] = (out, inp)
        if bias:
            keys[f"{name}.bias"] = (out,)

    def norm(name: str, dim: int) -> None:
        keys[f"{name}.weight"], keys[f"{name}.bias"] = (dim,), (dim,)

    def mha(name: str, dim: int) -> None:
        keys[f"{name}.in_proj_weight"], keys[f"{name}.in_proj_bias"] = (3 * dim, dim), (3 * dim,)
        linear(f"{name}.out_proj", dim, dim)

    e, w = cfg.embed_dim, cfg.window_size
    keys["imencoder.patch_embed.proj.weight"], keys["imencoder.patch_embed.proj.bias"] = (
        (e, 3, 4, 4),
        (e,),
    )
    norm("imencoder.patch_embed.norm", e)
    dims = [e * 2**i for i in range(len(cfg.depths))]
    for i, (c, depth, heads) in enumerate(zip(dims, cfg.depths, cfg.num_heads, strict=True)):
        for j in range(depth):
            p = f"imencoder.layers.{i}.blocks.{j}"
            norm(f"{p}.norm1", c)
            keys[f"{p}.attn.relative_position_bias_table"] = ((2 * w - 1) ** 2, heads)
            keys[f"{p}.attn.relative_position_index"] = (w * w, w * w)
            linear(f"{p}.attn.qkv", 3 * c, c)
            linear(f"{p}.attn.proj", c, c)
            norm(f"{p}.norm2", c)
            linear(f"{p}.mlp.fc1", 4 * c, c)
            linear(f"{p}.mlp.fc2", c, 4 * c)
        if i < len(dims) - 1:
            linear(f"imencoder.layers.{i}.downsample.reduction", 2 * c, 4 * c, bias=False)
            norm(f"imencoder.layers.{i}.downsample.norm", 4 * c)
        norm(f"imencoder.norm{i}", c)
    d = cfg.decoder_dim
    for level, c in zip(("res3", "res4", "res5"), dims[1:], strict=True):
        keys[f"imdecoder.inproj_layers.{level}.0.weight"] = (d, c, 1, 1)
        keys[f"imdecoder.inproj_layers.{level}.0.bias"] = (d,)
        norm(f"imdecoder.inproj_layers.{level}.1", d)
        keys[f"imdecoder.lateral_layers.{level}.weight"] = (d, c, 1, 1)
        norm(f"imdecoder.lateral_layers.{level}.norm", d)
    for k in range(cfg.decoder_layers):
        p = f"imdecoder.transformer.layers.{k}"
        mha(f"{p}.self_attn", d)
        norm(f"{p}.norm1", d)
        linear(f"{p}.linear1", cfg.decoder_ff_dim, d)
        linear(f"{p}.linear2", d, cfg.decoder_ff_dim)
        norm(f"{p}.norm2", d)
    keys["imdecoder.level_embed"] = (3, d)
    h = cfg.hidden_dim
    if cfg.position_embedding:
        linear("qtransformer.pe_layer.mlp.0", h, 4 * cfg.position_freqs)
        linear("qtransformer.pe_layer.mlp.2", h, h)
        linear("qtransformer.pe_layer.mlp.4", h, h)
    if d != h:
        for i in range(3):
            (
                keys[f"qtransformer.input_proj.{i}.weight"],
                keys[f"qtransformer.input_proj.{i}.bias"],
            ) = (h, d, 1, 1), (h,)
    for i in range(cfg.query_layers):
        mha(f"qtransformer.transformer_selfatt_layers.{i}.self_attn", h)
        norm(f"qtransformer.transformer_selfatt_layers.{i}.norm", h)
        mha(f"qtransformer.transformer_crossatt_layers.{i}.multihead_attn", h)
        norm(f"qtransformer.transformer_crossatt_layers.{i}.norm", h)
        linear(f"qtransformer.transformer_feedforward_layers.{i}.linear1", cfg.query_ff_dim, h)
        linear(f"qtransformer.transformer_feedforward_layers.{i}.linear2", h, cfg.query_ff_dim)
        norm(f"qtransformer.transformer_feedforward_layers.{i}.norm", h)
    q = cfg.num_global_queries + cfg.num_local_queries
    keys["qtransformer.init_query.weight"] = (q, h)
    keys["qtransformer.query_pos_embedding.weight"] = (q, h)
    keys["qtransformer.level_embed.weight"] = (3, h)
    return {f"ctx.image.{k}": v for k, v in keys.items()}


def official_checkpoint(cfg: SeeCoderConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state, fixed = {}, SeeCoder(cfg).state_dict()
    for key, shape in official_layout(cfg).items():
        if key.endswith("relative_position_index"):
            state[key] = fixed[key.removeprefix("ctx.image.")]  # a constant table, not learned
        else:
            state[key] = torch.randn(shape, generator=g) * 0.2
    state["diffuser.image.some.weight"] = torch.zeros(1)  # other parts of the full PFD model
    return state


@pytest.mark.parametrize("position_embedding", [False, True])
def test_an_official_layout_checkpoint_loads_with_no_missing_or_unexpected_keys(position_embedding):
    cfg = SeeCoderConfig(**{**TINY.__dict__, "position_embedding": position_embedding})
    checkpoint = official_checkpoint(cfg)
    model = SeeCoder(cfg)
    result = load_seecoder_state(model, checkpoint)
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    loaded = model.state_dict()
    assert torch.equal(
        loaded["qtransformer.init_query.weight"],
        checkpoint["ctx.image.qtransformer.init_query.weight"],
    )
    other = SeeCoderConfig(**{**TINY.__dict__, "position_embedding": not position_embedding})
    with pytest.raises(ValueError, match="position embedding"):
        load_seecoder_state(SeeCoder(other), checkpoint)


def test_load_seecoder_reads_a_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    checkpoint = official_checkpoint(TINY)
    path = tmp_path / "seecoder-tiny.safetensors"
    save_file(checkpoint, str(path))
    model = load_seecoder(path, TINY)
    assert not model.training
    assert torch.equal(
        model.imencoder.layers[1].blocks[0].attn.qkv.weight,
        checkpoint["ctx.image.imencoder.layers.1.blocks.0.attn.qkv.weight"],
    )
    from anypix.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match="no SeeCoder checkpoint"):
        load_seecoder(tmp_path / "missing.safetensors")


@torch.no_grad()
def test_seecoder_gives_4_global_and_144_local_context_tokens_for_any_image_size():
    torch.manual_seed(0)
    model = SeeCoder(TINY).eval()
    features = model.imencoder(torch.rand(1, 3, 64, 96))
    assert {k: tuple(v.shape[-2:]) for k, v in features.items()} == {
        "res2": (16, 24),
        "res3": (8, 12),
        "res4": (4, 6),
        "res5": (2, 3),
    }
    out = model(torch.rand(2, 3, 64, 96))
    assert out.shape == (2, 148, 32) and torch.isfinite(out).all()
    # the odd size exercises padding to whole windows and odd patch merging
    assert model(torch.rand(1, 3, 70, 50)).shape == (1, 148, 32)
    # the context depends on the image, and each image of a batch only on itself
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    both = model(torch.cat([a, b]))
    torch.testing.assert_close(both[0], model(a)[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(both[0], both[1])


@torch.no_grad()
def test_position_embedding_starts_neutral_and_then_makes_the_context_position_aware():
    torch.manual_seed(0)
    cfg = SeeCoderConfig(**{**TINY.__dict__, "position_embedding": True})
    model = SeeCoder(cfg).eval()
    image = torch.rand(1, 3, 64, 64)
    flipped = image.flip(-1)
    with_untrained_pe = model(image)
    pe_layer = model.qtransformer.pe_layer
    model.qtransformer.pe_layer = None
    torch.testing.assert_close(model(image), with_untrained_pe)  # zero-initialised last layer
    model.qtransformer.pe_layer = pe_layer
    pe_layer.mlp[-1].weight.normal_()  # a "trained" position MLP
    aware = (model(image) - model(flipped)).abs().mean()
    model.qtransformer.pe_layer = None
    blind = (model(image) - model(flipped)).abs().mean()
    assert aware > blind


@torch.no_grad()
def test_image_prompt_context_drives_the_unet_cross_attention(tiny_components, tmp_path):
    torch.manual_seed(0)
    model = SeeCoder(TINY).eval()
    path = tmp_path / "red.png"
    Image.fromarray(np.full((48, 80, 3), (220, 30, 30), dtype=np.uint8)).save(path)
    context = image_prompt_context(path, model, size=64)
    assert context.shape == (1, 148, 32)
    green = image_prompt_context(
        np.full((64, 64, 3), (30, 220, 30), dtype=np.uint8), model, size=64
    )
    text = torch.randn(1, 77, 32)
    joined = image_prompt_context(path, model, size=64, text_context=text)
    assert joined.shape == (1, 77 + 148, 32) and torch.equal(joined[:, :77], text)
    unet = tiny_components["unet"]
    sample = torch.randn(1, 4, 32, 32)
    outs = [
        unet(sample, 500, encoder_hidden_states=c).sample
        for c in (context, green, unconditional_image_context(context))
    ]
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[0], outs[2])
    with pytest.raises(ValueError, match="wide"):
        image_prompt_context(path, model, size=64, text_context=torch.randn(1, 77, 768))


def test_the_seecoder_preset_finds_the_checkpoint_in_a_repository_copy(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from anypix.errors import ModelUnavailableError
    from anypix.models.seecoder import CHECKPOINT_FILES, load_seecoder_preset

    repo = tmp_path / "prompt-free-diffusion"
    monkeypatch.setenv("ANYPIX_MODEL_PATHS__SEECODER", str(repo))
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_seecoder_preset()
    repo.mkdir()
    with pytest.raises(ModelUnavailableError, match="has no pretrained/pfd/seecoder"):
        load_seecoder_preset()
    target = repo / CHECKPOINT_FILES["seecoder"]
    target.parent.mkdir(parents=True)
    checkpoint = official_checkpoint(TINY)
    save_file(checkpoint, str(target))
    model = load_seecoder_preset(config=TINY)
    key = "qtransformer.level_embed.weight"
    assert torch.equal(model.state_dict()[key], checkpoint[f"ctx.image.{key}"])
    with pytest.raises(RuntimeError, match="size mismatch"):  # the default is the official size
        load_seecoder_preset()
