"""The miniworld binding encoder: a miniature ImageBind for the procedural world.

Text, images and tones go into one 128-d unit-norm space, trained contrastively (InfoNCE with a
learned temperature) by :mod:`anypix.models.miniworld.train_binding`:

* text: frozen all-MiniLM-L6-v2 (384-d, any sentence works) -> a trained 2-layer projection;
* image: a small CNN on 64x64 RGB in [-1, 1] (GroupNorm, SiLU, strided convs, global mean pool);
* audio: the time-averaged log power spectrum of a 16 kHz waveform (``torch.stft``, linear bins
  up to 4 kHz, gain removed) -> an MLP. Linear rather than mel bins because the colour pitches
  are as close as 330 and 349 Hz, which a mel scale of that size would merge.

The shipped weights live in ``weights/`` next to this file (``binding.safetensors`` in fp16,
``binding.json`` with the config, vocabulary and measured accuracy, and the refinement prior
``prior.pt``). ``load_encoder()`` is what ``anypix.models.encoders.load_encoder("miniworld")``
calls.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from anypix.errors import AssetError, ModelUnavailableError
from anypix.models.encoders import EmbedModality, Encoder, MiniLMEncoder
from anypix.models.miniworld.data import SAMPLE_RATE

if TYPE_CHECKING:
    from anypix.config import Settings
    from anypix.models.prior import RefinementPrior

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_FILE = "binding.safetensors"
CONFIG_FILE = "binding.json"
PRIOR_FILE = "prior.pt"
TRAIN_HINT = "train them: python -m anypix.models.miniworld.train_binding --out DIR --steps 2500"


@dataclass(frozen=True)
class BindingConfig:
    dim: int = 128  # size of the shared embedding space
    text_dim: int = 384  # MiniLM sentence embedding size
    text_hidden: int = 256  # hidden width of the text projection
    image_size: int = 64  # images are resized to this square before the CNN
    image_channels: tuple[int, ...] = (16, 32, 64, 128, 192)  # one conv block each
    image_strides: tuple[int, ...] = (2, 2, 2, 1, 2)  # 64 -> 32 -> 16 -> 8 -> 8 -> 4
    groups: int = 8  # GroupNorm groups
    n_fft: int = 2048  # 7.8 Hz bins at 16 kHz: pitches 19 Hz apart stay apart
    hop: int = 512
    spectrum_bins: int = 512  # keep bins below 4 kHz (the highest harmonic used is ~3.7 kHz)
    audio_hidden: int = 256


class ImageTower(nn.Module):
    """Conv blocks (a 4x4 stride-2 stem, then 3x3), global mean pool, linear. Small enough to
    train on one CPU thread in minutes; the stem's 4x4 patches keep small shapes' outlines."""

    def __init__(self, config: BindingConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for index, (width, stride) in enumerate(
            zip(config.image_channels, config.image_strides, strict=True)
        ):
            kernel = 4 if index == 0 and stride == 2 else 3
            layers += [
                nn.Conv2d(channels, width, kernel, stride=stride, padding=1),
                nn.GroupNorm(config.groups, width),
                nn.SiLU(),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, config.dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixels).mean(dim=(2, 3)))


class BindingModel(nn.Module):
    """The three towers and the learned temperature; outputs are unit vectors."""

    def __init__(self, config: BindingConfig = BindingConfig()) -> None:
        super().__init__()
        self.config = c = config
        self.text = nn.Sequential(
            nn.Linear(c.text_dim, c.text_hidden), nn.SiLU(), nn.Linear(c.text_hidden, c.dim)
        )
        self.image = ImageTower(c)
        self.audio = nn.Sequential(
            nn.Linear(c.spectrum_bins, c.audio_hidden),
            nn.LayerNorm(c.audio_hidden),
            nn.SiLU(),
            nn.Linear(c.audio_hidden, c.audio_hidden),
            nn.SiLU(),
            nn.Linear(c.audio_hidden, c.dim),
        )
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(10.0))))  # CLIP-style

    def encode_text(self, minilm: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text(minilm.float()), dim=-1)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if pixels.shape[-2:] != (size, size):
            pixels = nn.functional.interpolate(
                pixels.float(), size=(size, size), mode="bilinear", antialias=True
            )
        return nn.functional.normalize(self.image(pixels.float()), dim=-1)

    def encode_spectrum(self, spectrum: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.audio(spectrum.float()), dim=-1)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=100.0)


def log_spectrum(waveform: torch.Tensor, config: BindingConfig = BindingConfig()) -> torch.Tensor:
    """(bins,) time-averaged log power spectrum of a 16 kHz mono waveform, loudness removed."""
    waveform = waveform.float().flatten()
    if waveform.numel() < config.hop:
        waveform = nn.functional.pad(waveform, (0, config.hop - waveform.numel()))
    window = torch.hann_window(config.n_fft, device=waveform.device)
    spec = torch.stft(
        waveform, config.n_fft, config.hop, window=window, center=True, return_complex=True
    )
    power = spec.abs().pow(2)[: config.spectrum_bins].mean(dim=-1)
    logp = torch.log(power + 1e-10)
    # Gain moves every bin equally in log space: subtract the peak, clip the floor, rescale.
    return ((logp - logp.max()).clamp(min=-16.0) + 8.0) / 8.0


def resample_linear(waveform: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample by linear interpolation (enough for tones; no anti-aliasing filter)."""
    if rate == target:
        return waveform.astype(np.float32)
    count = max(1, round(len(waveform) * target / rate))
    times = np.arange(count) * (rate / target)
    return np.interp(times, np.arange(len(waveform)), waveform).astype(np.float32)


@dataclass
class BindingMetadata:
    """What ``binding.json`` holds next to the weights."""

    config: BindingConfig
    vocabulary: dict[str, list[str]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BindingMetadata:
        raw = json.loads(text)
        config = raw.pop("config")
        config["image_channels"] = tuple(config["image_channels"])
        config["image_strides"] = tuple(config["image_strides"])
        return cls(config=BindingConfig(**config), **raw)


class MiniworldBindingEncoder(Encoder):
    """Text, image and audio in the binding space. Besides ``embed`` (the Encoder interface) it
    has batched tensor methods for training code: ``embed_pixels``, ``embed_texts``,
    ``embed_waveforms``; the model is frozen, gradients flow to ``embed_pixels``' input."""

    modalities = frozenset({"text", "image", "audio"})

    def __init__(
        self, model: BindingModel, encoder_id: str, device: str = "cpu", minilm: Any = None
    ) -> None:
        self.model = model.to(device).eval().requires_grad_(False)
        self.config = model.config
        self.dim = model.config.dim
        self.encoder_id = encoder_id
        self.device = device
        self._minilm = minilm
        self._sentences: dict[str, torch.Tensor] = {}  # MiniLM cache: the vocabulary repeats

    def to(self, device: str) -> MiniworldBindingEncoder:
        self.model.to(device)
        self.device = device
        return self

    # -- batched tensor API ----------------------------------------------------------------------

    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, dim) unit vectors, on the model's device."""
        if pixels.ndim != 4 or pixels.shape[1] != 3:
            raise ValueError(f"expected pixels of shape (B, 3, H, W), got {tuple(pixels.shape)}")
        return self.model.encode_image(pixels.to(self.device))

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Any sentences -> (B, dim) unit vectors (MiniLM, cached per sentence, + projection)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._sentences]
        if missing:
            if self._minilm is None:
                self._minilm = MiniLMEncoder("cpu")
            vectors = self._minilm.embed(missing, "text")
            self._sentences.update(zip(missing, vectors, strict=True))
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        stacked = torch.stack([self._sentences[t] for t in texts]).to(self.device)
        with torch.no_grad():
            return self.model.encode_text(stacked)

    def embed_waveforms(
        self, waveforms: Sequence[np.ndarray], rate: int = SAMPLE_RATE
    ) -> torch.Tensor:
        """Mono waveforms (any lengths) at ``rate`` -> (B, dim) unit vectors."""
        if not waveforms:
            return torch.zeros(0, self.dim, device=self.device)
        spectra = [
            log_spectrum(
                torch.from_numpy(resample_linear(np.asarray(w, dtype=np.float32), rate)).to(
                    self.device
                ),
                self.config,
            )
            for w in waveforms
        ]
        with torch.no_grad():
            return self.model.encode_spectrum(torch.stack(spectra))

    # -- Encoder interface -----------------------------------------------------------------------

    def _embed(self, items: Sequence[Any], modality: EmbedModality) -> torch.Tensor:
        if modality == "text":
            return self.embed_texts([str(t) for t in items])
        if modality == "image":
            return self.embed_pixels(torch.stack([_image_tensor(i, self.config) for i in items]))
        return self.embed_waveforms([_waveform(i) for i in items])


def _image_tensor(item: Any, config: BindingConfig) -> torch.Tensor:
    from PIL import Image

    try:
        image = item if isinstance(item, Image.Image) else Image.open(item)
        image = image.convert("RGB")
    except (OSError, ValueError) as error:
        raise AssetError(f"cannot read image {item!r}: {error}", "give a PNG or JPEG") from None
    size = config.image_size
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def _waveform(item: Any) -> np.ndarray:
    """A mono 16 kHz float32 waveform from a path or a (waveform, rate) pair."""
    if isinstance(item, tuple):
        samples, rate = item
        samples = np.asarray(samples, dtype=np.float32)
    else:
        import soundfile

        try:
            samples, rate = soundfile.read(str(item), dtype="float32", always_2d=False)
        except (OSError, RuntimeError) as error:
            raise AssetError(f"cannot read audio {item!r}: {error}", "give a WAV file") from None
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return resample_linear(samples, int(rate))


# -- loading -------------------------------------------------------------------------------------


def weights_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def load_metadata(weights_dir: Path = WEIGHTS_DIR) -> BindingMetadata:
    return BindingMetadata.from_json((weights_dir / CONFIG_FILE).read_text())


def load_binding(
    weights_dir: Path = WEIGHTS_DIR, device: str = "cpu", minilm: Any = None
) -> MiniworldBindingEncoder:
    """The encoder from a directory holding ``binding.safetensors`` and ``binding.json``;
    ``minilm`` reuses an already loaded :class:`MiniLMEncoder`."""
    from safetensors.torch import load_file

    path = weights_dir / WEIGHTS_FILE
    if not path.exists() or not (weights_dir / CONFIG_FILE).exists():
        raise ModelUnavailableError(
            f"the miniworld binding encoder has no weights in {weights_dir}", TRAIN_HINT
        )
    model = BindingModel(load_metadata(weights_dir).config)
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    model.load_state_dict(state)
    encoder_id = f"miniworld-binding-{weights_digest(path)}"
    return MiniworldBindingEncoder(model, encoder_id, device, minilm)


def load_encoder(settings: Settings | None = None) -> MiniworldBindingEncoder:
    """The shipped encoder (the ``miniworld`` preset of :func:`anypix.models.encoders.load_encoder`)."""
    from anypix.models.device import pick_device

    device = str(pick_device(settings.device if settings else "auto"))
    # The vocabulary's sentence vectors are cached on disk: a later process skips MiniLM.
    minilm = MiniLMEncoder("cpu", cache_dir=settings.cache_dir) if settings else None
    return load_binding(WEIGHTS_DIR, device, minilm)


def load_miniworld_prior(weights_dir: Path = WEIGHTS_DIR, device: str = "cpu") -> RefinementPrior:
    """The refinement prior trained on this directory's binding embeddings (text/audio -> image).
    Refine should use it for encoders whose id starts with ``miniworld-binding-``."""
    from anypix.models.prior import load_prior

    path = weights_dir / PRIOR_FILE
    if not path.exists():
        raise ModelUnavailableError(
            f"no miniworld prior at {path}", TRAIN_HINT + " --prior-steps 2000"
        )
    trained_for = torch.load(path, map_location="cpu", weights_only=True).get("encoder_id")
    expected = f"miniworld-binding-{weights_digest(weights_dir / WEIGHTS_FILE)}"
    if trained_for != expected:
        raise ModelUnavailableError(
            f"{path} was trained for {trained_for}, not for the encoder beside it ({expected})",
            "retrain the prior: python -m anypix.models.miniworld.train_binding --out DIR "
            "--steps N --prior-steps 2000 (it resumes the encoder and retrains the prior)",
        )
    return load_prior(str(path), device)
