"""ImageBind-compatible encoder: runs at test size, loads the official key layout, preprocesses
inputs as ImageBind does (no torchvision, no torchaudio)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from anypix.errors import ModelUnavailableError
from anypix.models.imagebind import ImageBindConfig, ImageBindModel, load_imagebind
from anypix.models.imagebind_inputs import (
    CLIP_MEAN,
    CLIP_STD,
    audio_clips,
    kaldi_fbank,
    preprocess_images,
    tokenizer_from_bpe_file,
)


def official_layout(c: ImageBindConfig) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the vision/text/audio part of imagebind_huge.pth, written from the official
    model code (ImageBindModel in facebookresearch/ImageBind), independently of anypix's model."""
    p, t, h = c.patch, c.image_size // c.patch, c.audio_grid
    keys: dict[str, tuple[int, ...]] = {
        "modality_preprocessors.vision.cls_token": (1, 1, c.vision_dim),
        "modality_preprocessors.vision.rgbt_stem.proj.1.weight": (c.vision_dim, 3, 2, p, p),
        "modality_preprocessors.vision.pos_embedding_helper.pos_embed": (
            1,
            1 + t * t,
            c.vision_dim,
        ),
        "modality_preprocessors.text.pos_embed": (1, c.context_length, c.text_dim),
        "modality_preprocessors.text.mask": (c.context_length, c.context_length),
        "modality_preprocessors.text.token_embedding.weight": (c.vocab_size, c.text_dim),
        "modality_preprocessors.audio.cls_token": (1, 1, c.audio_dim),
        "modality_preprocessors.audio.rgbt_stem.proj.weight": (c.audio_dim, 1, 16, 16),
        "modality_preprocessors.audio.rgbt_stem.norm_layer.weight": (c.audio_dim,),
        "modality_preprocessors.audio.rgbt_stem.norm_layer.bias": (c.audio_dim,),
        "modality_preprocessors.audio.pos_embedding_helper.pos_embed": (
            1,
            1 + h[0] * h[1],
            c.audio_dim,
        ),
        "modality_trunks.vision.pre_transformer_layer.0.weight": (c.vision_dim,),
        "modality_trunks.vision.pre_transformer_layer.0.bias": (c.vision_dim,),
        "modality_heads.vision.0.weight": (c.vision_dim,),
        "modality_heads.vision.0.bias": (c.vision_dim,),
        "modality_heads.vision.2.weight": (c.out_dim, c.vision_dim),
        "modality_heads.text.proj.0.weight": (c.text_dim,),
        "modality_heads.text.proj.0.bias": (c.text_dim,),
        "modality_heads.text.proj.1.weight": (c.out_dim, c.text_dim),
        "modality_heads.audio.0.weight": (c.audio_dim,),
        "modality_heads.audio.0.bias": (c.audio_dim,),
        "modality_heads.audio.2.weight": (c.out_dim, c.audio_dim),
        "modality_postprocessors.text.1.log_logit_scale": (),
        "modality_postprocessors.audio.1.log_logit_scale": (),
    }
    trunks = {"vision": (c.vision_dim, c.vision_blocks), "text": (c.text_dim, c.text_blocks)}
    trunks["audio"] = (c.audio_dim, c.audio_blocks)
    for name, (d, blocks) in trunks.items():
        for i in range(blocks):
            b = f"modality_trunks.{name}.blocks.{i}."
            keys |= {
                b + "attn.in_proj_weight": (3 * d, d), b + "attn.in_proj_bias": (3 * d,),
                b + "attn.out_proj.weight": (d, d), b + "attn.out_proj.bias": (d,),
                b + "norm_1.weight": (d,), b + "norm_1.bias": (d,),
                b + "mlp.fc1.weight": (4 * d, d), b + "mlp.fc1.bias": (4 * d,),
                b + "mlp.fc2.weight": (d, 4 * d), b + "mlp.fc2.bias": (d,),
                b + "norm_2.weight": (d,), b + "norm_2.bias": (d,),
            }  # fmt: skip
            if name == "audio":  # add_bias_kv=True for audio only
                keys |= {b + "attn.bias_k": (1, 1, d), b + "attn.bias_v": (1, 1, d)}
    return keys


def test_huge_model_has_exactly_the_official_keys_and_shapes() -> None:
    with torch.device("meta"):  # 1B parameters without allocating them
        model = ImageBindModel(ImageBindConfig.huge())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = official_layout(ImageBindConfig.huge())
    assert set(ours) == set(expected)
    assert {k for k in ours if ours[k] != expected[k]} == set()
    assert expected["modality_preprocessors.vision.pos_embedding_helper.pos_embed"] == (
        1,
        257,
        1280,
    )
    assert expected["modality_preprocessors.audio.pos_embedding_helper.pos_embed"] == (1, 229, 768)


def test_official_layout_checkpoint_loads_with_nothing_missing_or_unexpected(
    tmp_path: Path,
) -> None:
    config = ImageBindConfig.tiny()
    generator = torch.Generator().manual_seed(0)
    state = {k: torch.randn(s, generator=generator) for k, s in official_layout(config).items()}
    # The real file also holds the other modalities; they are skipped, not errors.
    state["modality_trunks.depth.blocks.0.norm_1.weight"] = torch.ones(3)
    state["modality_heads.imu.3.weight"] = torch.ones(2, 2)
    path = tmp_path / "imagebind_huge.pth"
    torch.save(state, path)

    model = load_imagebind(tmp_path, config)  # a folder finds imagebind_huge.pth in it

    loaded = model.state_dict()
    key = "modality_trunks.audio.blocks.1.attn.bias_k"
    assert torch.equal(loaded[key], state[key])
    assert torch.equal(
        loaded["modality_heads.text.proj.1.weight"], state["modality_heads.text.proj.1.weight"]
    )
    assert not any(t.is_meta for t in loaded.values())  # built on meta, every tensor replaced
    image = torch.zeros(1, 3, config.image_size, config.image_size)
    assert torch.allclose(model("vision", image).norm(dim=-1), torch.ones(1), atol=1e-5)

    del state["modality_heads.vision.2.weight"]
    torch.save(state, path)
    with pytest.raises(ModelUnavailableError, match=r"missing.*modality_heads\.vision\.2\.weight"):
        load_imagebind(path, config)


def test_misshapen_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    config = ImageBindConfig.tiny()
    state = {k: torch.zeros(s) for k, s in official_layout(config).items()}
    state["modality_heads.audio.2.weight"] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ModelUnavailableError, match="misshapen"):
        load_imagebind(tmp_path / "bad.pth", config)


def test_tiny_encoder_embeds_all_three_modalities_to_unit_vectors() -> None:
    from PIL import Image

    from anypix.models.encoders import ImageBindEncoder

    encoder = ImageBindEncoder.tiny(seed=0)
    texts = encoder.embed(["a red car", "a quiet lake at dawn"], "text")
    images = encoder.embed(
        [Image.new("RGB", (40, 30), "red"), Image.new("RGB", (30, 50), "blue")], "image"
    )
    t = torch.arange(48_000) / 16_000
    tones = [(torch.sin(2 * torch.pi * f * t), 16_000) for f in (220.0, 1760.0)]
    sounds = encoder.embed(tones, "audio")
    for vectors in (texts, images, sounds):
        assert vectors.shape == (2, ImageBindConfig.tiny().out_dim)
        assert torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-5)
        assert not torch.allclose(vectors[0], vectors[1], atol=1e-3)  # inputs are told apart


def test_image_preprocessing_resizes_short_side_crops_centre_and_normalises() -> None:
    from PIL import Image

    image = Image.new("RGB", (300, 200), (255, 128, 0))
    pixels = preprocess_images([image], size=224)
    assert pixels.shape == (1, 3, 224, 224)
    expected = [
        (v / 255 - m) / s for v, m, s in zip((255, 128, 0), CLIP_MEAN, CLIP_STD, strict=True)
    ]
    assert torch.allclose(pixels[0, :, 100, 100], torch.tensor(expected), atol=1e-5)


def test_kaldi_fbank_matches_torchaudio_reference_values() -> None:
    # Reference values from torchaudio.compliance.kaldi.fbank(htk_compat=True, use_energy=False,
    # window_type="hanning", num_mel_bins=128, dither=0, frame_length=25, frame_shift=10) on this
    # signal, computed once with torchaudio 2.11 (which anypix does not depend on).
    n = torch.arange(8000, dtype=torch.float64)
    signal = 0.3 * torch.sin(2 * torch.pi * 440 * n / 16000) + 0.1 * torch.sin(
        2 * torch.pi * 3000 * n / 16000
    )
    fbank = kaldi_fbank(signal.float(), 16_000, 128)
    assert fbank.shape == (48, 128)
    expected = torch.tensor([-13.0725, -10.4823, -8.54, -15.9424, -11.9967, -15.9424])
    assert torch.allclose(fbank[7, [0, 10, 30, 60, 90, 127]], expected, atol=2e-3)
    assert abs(float(fbank.mean()) - -12.4539) < 2e-3


def test_audio_clips_resample_pad_and_normalise() -> None:
    waveform = torch.sin(torch.arange(22_050 * 3) * 0.05)  # 3 s at 22.05 kHz
    clips = audio_clips(waveform, 22_050)
    assert clips.shape == (3, 1, 128, 204)
    # 2 s at 16 kHz is 198 frames; the last 6 are padding (0 before normalisation).
    assert torch.allclose(clips[0, 0, :, 200], torch.full((128,), 4.268 / 9.138), atol=1e-5)
    assert not torch.allclose(clips[0], clips[2])  # different stretches of the recording


def test_clip_tokenizer_from_an_openai_style_bpe_file(tmp_path: Path) -> None:
    path = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('"bpe_simple_vocab_16e6.txt#version: 0.2\nt h\nth e</w>\n')
    tokenizer = tokenizer_from_bpe_file(path, context_length=8)
    ids = tokenizer(["the"])
    # vocab order: 256 bytes, 256 bytes+</w>, merges ("th", "the</w>"), <start>, <end>
    assert ids.tolist() == [[514, 513, 515, 0, 0, 0, 0, 0]]


def test_instant_clip_tokenizer_gives_openai_ids() -> None:
    pytest.importorskip("instant_clip_tokenizer")
    from anypix.models.imagebind_inputs import InstantClipTokenizer

    ids = InstantClipTokenizer(context_length=10)(["A person riding a motorcycle"])
    assert ids[0].tolist() == [49406, 320, 2533, 6765, 320, 10297, 49407, 0, 0, 0]
