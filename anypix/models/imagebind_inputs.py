"""ImageBind's input pipelines with PIL and torch only (no torchvision, no torchaudio).

* images: shorter side resized to 224 (bicubic), centre crop, CLIP mean/std;
* audio: mono 16 kHz, three 2-second clips spread over the recording, each a Kaldi-style log-mel
  filterbank (128 bins, 25 ms Hann windows every 10 ms, pre-emphasis 0.97, DC removal, 512-point
  FFT, power spectrum) padded or cut to 204 frames and normalised with ImageBind's mean and std;
* text: CLIP BPE ids ``[start] tokens [end]`` zero-padded to 77. The real vocabulary comes from
  ``bpe_simple_vocab_16e6.txt.gz`` beside the checkpoint (ImageBind's ``bpe/`` folder) or from the
  ``instant-clip-tokenizer`` package, which embeds OpenAI's vocabulary; tests use the byte tokenizer.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from anypix.errors import AssetError, ModelUnavailableError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
AUDIO_MEAN, AUDIO_STD = -4.268, 9.138
SAMPLE_RATE = 16_000


# -- images ----------------------------------------------------------------------------------------


def preprocess_images(images: Sequence[Any], size: int = 224) -> torch.Tensor:
    """PIL images (or paths) -> (B, 3, size, size) normalised float tensor."""
    from PIL import Image

    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    batch = []
    for item in images:
        image = item if isinstance(item, Image.Image) else Image.open(item)
        image = image.convert("RGB")
        w, h = image.size
        scale = size / min(w, h)
        new_w, new_h = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
        if scale != 1:
            image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
        left = round((new_w - size) / 2.0)
        top = round((new_h - size) / 2.0)
        image = image.crop((left, top, left + size, top + size))
        pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        pixels = pixels.view(size, size, 3).permute(2, 0, 1).float() / 255.0
        batch.append((pixels - mean) / std)
    return torch.stack(batch)


# -- audio -----------------------------------------------------------------------------------------


def load_waveform(path: str | Path) -> tuple[torch.Tensor, int]:
    """Mono float waveform and its sample rate, read with soundfile."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise AssetError(f"cannot read audio {path}: {exc}", "use WAV, FLAC or OGG audio") from None
    return torch.from_numpy(data.mean(axis=1)), int(rate)


def resample(waveform: torch.Tensor, rate: int, new_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Band-limited resampling by truncating or zero-padding the spectrum."""
    if rate == new_rate:
        return waveform
    new_len = max(1, round(waveform.shape[-1] * new_rate / rate))
    spectrum = torch.fft.rfft(waveform.double())
    keep = min(spectrum.shape[-1], new_len // 2 + 1)
    out = torch.zeros(new_len // 2 + 1, dtype=spectrum.dtype)
    out[:keep] = spectrum[:keep]
    return (torch.fft.irfft(out, n=new_len) * (new_len / waveform.shape[-1])).float()


def _mel(freq: torch.Tensor | float) -> torch.Tensor:
    return 1127.0 * torch.log1p(torch.as_tensor(freq, dtype=torch.float64) / 700.0)


def mel_banks(num_bins: int, fft_size: int, rate: int, low: float = 20.0) -> torch.Tensor:
    """Kaldi's triangular mel filters, (num_bins, fft_size // 2 + 1), last column zero."""
    mel_low, mel_high = _mel(low), _mel(rate / 2)
    delta = (mel_high - mel_low) / (num_bins + 1)
    bins = torch.arange(num_bins, dtype=torch.float64).unsqueeze(1)
    left = mel_low + bins * delta
    center, right = left + delta, left + 2 * delta
    fft_mel = _mel(torch.arange(fft_size // 2, dtype=torch.float64) * rate / fft_size).unsqueeze(0)
    up = (fft_mel - left) / (center - left)
    down = (right - fft_mel) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1)).float()


def kaldi_fbank(
    waveform: torch.Tensor, rate: int = SAMPLE_RATE, num_bins: int = 128
) -> torch.Tensor:
    """Log-mel filterbank (frames, num_bins) as Kaldi computes it with ImageBind's options
    (htk_compat, no energy, Hann window, no dither, 25 ms / 10 ms frames, snip edges)."""
    window, shift = int(rate * 0.025), int(rate * 0.010)
    fft_size = 1 << (window - 1).bit_length()
    if waveform.shape[-1] < window:
        waveform = torch.nn.functional.pad(waveform, (0, window - waveform.shape[-1]))
    frames = waveform.double().unfold(0, window, shift)
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove DC offset per frame
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - 0.97 * previous  # pre-emphasis, first sample against itself
    frames = frames * torch.hann_window(window, periodic=False, dtype=torch.float64)
    frames = torch.nn.functional.pad(frames, (0, fft_size - window))
    power = torch.fft.rfft(frames).abs().pow(2)
    energies = power @ mel_banks(num_bins, fft_size, rate).double().T
    eps = torch.finfo(torch.float32).eps
    return energies.clamp(min=eps).log().float()


def audio_clips(
    waveform: torch.Tensor,
    rate: int,
    clips: int = 3,
    clip_seconds: float = 2.0,
    num_bins: int = 128,
    frames: int = 204,
) -> torch.Tensor:
    """(clips, 1, num_bins, frames) normalised fbanks from evenly spaced clips of a recording."""
    waveform = resample(waveform, rate)
    waveform = waveform - waveform.mean()
    duration = waveform.shape[-1] / SAMPLE_RATE
    step = max(duration - clip_seconds, 0.0) / max(clips - 1, 1)
    out = []
    for index in range(clips):
        start = int(index * step * SAMPLE_RATE)
        piece = waveform[start : start + int(clip_seconds * SAMPLE_RATE)]
        fbank = kaldi_fbank(piece, SAMPLE_RATE, num_bins).T  # (bins, n_frames)
        fbank = torch.nn.functional.pad(fbank, (0, max(0, frames - fbank.shape[1])))[:, :frames]
        out.append(((fbank - AUDIO_MEAN) / AUDIO_STD).unsqueeze(0))
    return torch.stack(out)


# -- text ------------------------------------------------------------------------------------------


class ClipTokenizer(Protocol):
    def __call__(self, texts: Sequence[str]) -> torch.Tensor: ...


class BpeTokenizer:
    """CLIP ids from any tokenizer with ``encode``-like behaviour (transformers' CLIPTokenizer)."""

    def __init__(self, tokenizer: Any, context_length: int = 77) -> None:
        self.tokenizer = tokenizer
        self.context_length = context_length

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        tok = self.tokenizer
        ids = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            body = tok(text, add_special_tokens=False)["input_ids"][: self.context_length - 2]
            seq = [tok.bos_token_id, *body, tok.eos_token_id]
            ids[row, : len(seq)] = torch.tensor(seq)
        return ids


class InstantClipTokenizer:
    """OpenAI's CLIP vocabulary as embedded in the ``instant-clip-tokenizer`` package."""

    def __init__(self, context_length: int = 77) -> None:
        import instant_clip_tokenizer

        self.tokenizer = instant_clip_tokenizer.Tokenizer()
        self.context_length = context_length

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        # Rows come back as [start] ids [end] 0...; truncated rows keep [end] last.
        ids = self.tokenizer.tokenize_batch(list(texts), self.context_length)
        return torch.from_numpy(ids.astype("int64"))


def _clip_bpe(merges: list[str], context_length: int) -> BpeTokenizer:
    """A CLIP tokenizer over the byte alphabet plus ``merges`` ("a b" lines), vocab in CLIP's
    order: bytes, bytes + "</w>", one token per merge, then the two special tokens."""
    from transformers import CLIPTokenizer

    from anypix.models.tiny import SPECIAL_TOKENS, _bytes_to_unicode

    chars = list(_bytes_to_unicode().values())
    vocab = [*chars, *(c + "</w>" for c in chars), *("".join(m.split()) for m in merges)]
    vocab += list(SPECIAL_TOKENS)
    # transformers 5 takes the vocab and merges themselves (vocab_file= is silently ignored).
    tokenizer = CLIPTokenizer(
        vocab={token: index for index, token in enumerate(vocab)},
        merges=[tuple(m.split()) for m in merges],  # type: ignore[misc]
        model_max_length=context_length,
    )
    return BpeTokenizer(tokenizer, context_length)


def tokenizer_from_bpe_file(path: Path, context_length: int = 77) -> BpeTokenizer:
    """Build a CLIP tokenizer from OpenAI's ``bpe_simple_vocab_16e6.txt.gz`` (offline)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    # Line 0 is a version header; CLIP uses the first 49152 - 256 - 2 merges.
    return _clip_bpe([m for m in lines[1 : 49152 - 256 - 2 + 1] if m.strip()], context_length)


def clip_tokenizer(checkpoint: Path | None = None, context_length: int = 77) -> ClipTokenizer:
    """The real CLIP tokenizer: a vocab file near the checkpoint, else the embedded one."""
    if checkpoint is not None:
        folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
        for candidate in (
            folder / "bpe_simple_vocab_16e6.txt.gz",
            folder / "bpe" / "bpe_simple_vocab_16e6.txt.gz",
        ):
            if candidate.exists():
                return tokenizer_from_bpe_file(candidate, context_length)
    try:
        return InstantClipTokenizer(context_length)
    except ImportError:
        raise ModelUnavailableError(
            "no CLIP BPE vocabulary for ImageBind's text encoder",
            "pip install instant-clip-tokenizer, or put bpe_simple_vocab_16e6.txt.gz beside "
            "imagebind_huge.pth",
        ) from None


def byte_tokenizer(context_length: int = 77) -> BpeTokenizer:
    """The offline byte-level CLIP tokenizer (vocab 514, no merges) that tiny test models use."""
    return _clip_bpe([], context_length)
