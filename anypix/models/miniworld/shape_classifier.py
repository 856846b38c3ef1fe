"""A tiny shape classifier for what a miniworld image draws in a blob (shape guidance's critic).

Given an image, a blob and the colour asked for in it, :func:`blob_patches` resamples the image
in the blob's own frame (its ellipse becomes the unit circle, the major axis points right) over
``[-EXTENT, EXTENT]`` of the semi-axes, and turns each pixel into its *affinity* to the asked
colour (1 on that colour, falling off with RGB distance). A small CNN (:class:`ShapeClassifier`)
names the shape of that patch among :data:`~anypix.models.miniworld.data.SHAPES`. Everything is
differentiable in the image's pixels, which is what guidance needs
(:mod:`anypix.tools.shape_guidance`).

The classifier is learnt (:mod:`anypix.models.miniworld.train_shape_classifier`) from rendered
scenes, blurred and noised like a denoiser's early clean-image predictions, with blob poses
jittered as a model misplaces them; it is not the fidelity benchmark's template fit
(:func:`~anypix.models.miniworld.metrics.classify_shape`), which measures the result.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from anypix.errors import ModelUnavailableError
from anypix.models.miniworld.data import COLOURS, SHAPES
from anypix.plan import Blob

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_FILE = "shape_classifier.safetensors"
CONFIG_FILE = "shape_classifier.json"
TRAIN_HINT = "train it: python -m anypix.models.miniworld.train_shape_classifier --out DIR"


@dataclass(frozen=True)
class ShapeClassifierConfig:
    patch: int = 24  # side of the blob-frame patch, in samples
    extent: float = 1.5  # the patch spans [-extent, extent] semi-axes (a triangle reaches 1.25)
    colour_width: float = 0.25  # RGB distance (0-1 per channel) at which affinity falls to 1/e
    # "gaussian": exp(-d^2/w^2) (the shipped weights), flat on the colour itself, so a pixel
    # right on it gets no gradient; "laplacian": exp(-d/w) keeps one there (untried).
    falloff: str = "gaussian"
    channels: tuple[int, ...] = (16, 32, 48)  # one conv block each, stride 2 after the first


class ShapeClassifier(nn.Module):
    """Colour-affinity patch (B, 1, P, P) -> shape logits (B, len(SHAPES))."""

    def __init__(self, config: ShapeClassifierConfig = ShapeClassifierConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = 1
        for index, channels in enumerate(config.channels):
            layers += [nn.Conv2d(width, channels, 3, stride=1 if index == 0 else 2, padding=1),
                       nn.GroupNorm(4, channels), nn.SiLU()]  # fmt: skip
            width = channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, len(SHAPES))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(patches).mean(dim=(2, 3)))


def blob_frames(blobs: list[Blob], width: int, height: int, extent: float) -> torch.Tensor:
    """(B, 2, 3) affine maps from a patch's normalised grid to the image's (``F.affine_grid``):
    patch x runs along the blob's major axis, y along its minor one, both over ``extent``."""
    side = min(width, height)
    rows = []
    for blob in blobs:
        t = math.radians(blob.angle)
        # Pixel offset from the centre for blob-frame (u, v): (u a cos - v b sin, u a sin + v b cos)
        # in units of the shorter side; the normalised grid spans 2 per image side.
        ax, ay = 2 * extent * blob.a * side / width, 2 * extent * blob.a * side / height
        bx, by = 2 * extent * blob.b * side / width, 2 * extent * blob.b * side / height
        rows.append([[ax * math.cos(t), -bx * math.sin(t), 2 * blob.cx - 1],
                     [ay * math.sin(t), by * math.cos(t), 2 * blob.cy - 1]])  # fmt: skip
    return torch.tensor(rows, dtype=torch.float32)


def colour_affinity(
    pixels: torch.Tensor, colours: torch.Tensor, width: float, falloff: str = "gaussian"
) -> torch.Tensor:
    """(B, 1, H, W): exp(-RGB distance to each row's colour / width) (``falloff`` "gaussian":
    of its square over width^2), pixels in [-1, 1] and colours (B, 3) in [0, 1]."""
    rgb = (pixels + 1) / 2
    distance2 = ((rgb - colours[:, :, None, None]) ** 2).sum(dim=1, keepdim=True)
    if falloff == "gaussian":
        return torch.exp(-distance2 / width**2)
    return torch.exp(-(distance2 + 1e-6).sqrt() / width)


def blob_patches(
    pixels: torch.Tensor, blobs: list[Blob], colours: list[str], config: ShapeClassifierConfig
) -> torch.Tensor:
    """(B, 1, P, P) colour-affinity patches of ``pixels`` (B, 3, H, W) in [-1, 1], one per
    (blob, colour) row, in each blob's frame; outside the image counts as no colour."""
    height, width = pixels.shape[-2:]
    theta = blob_frames(blobs, width, height, config.extent).to(pixels.device, pixels.dtype)
    grid = F.affine_grid(theta, [len(blobs), 3, config.patch, config.patch], align_corners=False)
    sampled = F.grid_sample(pixels, grid, align_corners=False, padding_mode="border")
    table = torch.tensor([COLOURS[c] for c in colours], dtype=pixels.dtype) / 255
    return colour_affinity(sampled, table.to(pixels.device), config.colour_width, config.falloff)


class ShapeCritic:
    """The classifier with its patching: log-probabilities of every shape in each blob."""

    def __init__(self, model: ShapeClassifier, critic_id: str) -> None:
        self.model = model.eval().requires_grad_(False)
        self.config = model.config
        self.critic_id = critic_id

    def log_probs(
        self, pixels: torch.Tensor, blobs: list[Blob], colours: list[str]
    ) -> torch.Tensor:
        """(B, len(SHAPES)) for image rows ``pixels`` (B, 3, H, W) in [-1, 1]; gradients flow to
        the pixels."""
        patches = blob_patches(pixels, blobs, colours, self.config)
        return self.model(patches.float()).log_softmax(dim=-1)

    def reads(self, blob: Blob) -> bool:
        """Whether the blob's sentence names one colour and one shape of the world."""
        return asked(blob) is not None

    def log_likelihood(self, pixels: torch.Tensor, blobs: list[Blob]) -> torch.Tensor:
        """(B,) log-probability of each blob's asked shape (blobs the critic :meth:`reads`)."""
        pairs = [asked(blob) for blob in blobs]
        if any(pair is None for pair in pairs):
            raise ValueError("every blob must name one colour and one shape (see reads())")
        colours = [pair[0] for pair in pairs if pair is not None]
        shapes = torch.tensor([SHAPES.index(pair[1]) for pair in pairs if pair is not None])
        scores = self.log_probs(pixels, blobs, colours)
        return scores.gather(1, shapes.to(scores.device)[:, None])[:, 0]


def asked(blob: Blob) -> tuple[str, str] | None:
    """(colour, shape) a blob's sentence names ("a small red ring", "the blue box"), or None
    unless it names exactly one of each."""
    from anypix.models.miniworld.words import SYNONYMS

    canonical = {alt: word for word, alts in SYNONYMS.items() for alt in alts}
    words = [canonical.get(w, w) for w in blob.description.lower().replace(",", " ").split()]
    colours = {w for w in words if w in COLOURS}
    shapes = {w for w in words if w in SHAPES}
    if len(colours) != 1 or len(shapes) != 1:
        return None
    return next(iter(colours)), next(iter(shapes))


def save_classifier(model: ShapeClassifier, out_dir: Path, training: dict[str, object]) -> None:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / WEIGHTS_FILE)
    )
    record = {"config": asdict(model.config), "training": training}
    (out_dir / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


@cache
def shipped_critic() -> ShapeCritic:
    """The shipped critic, loaded once per process."""
    return load_shape_critic()


def load_shape_critic(weights_dir: Path = WEIGHTS_DIR) -> ShapeCritic:
    """The shipped critic (or one from ``weights_dir``)."""
    import hashlib

    from safetensors.torch import load_file

    path = weights_dir / WEIGHTS_FILE
    if not path.exists() or not (weights_dir / CONFIG_FILE).exists():
        raise ModelUnavailableError(
            f"the miniworld shape classifier has no weights in {weights_dir}", TRAIN_HINT
        )
    raw = json.loads((weights_dir / CONFIG_FILE).read_text(encoding="utf-8"))["config"]
    config = ShapeClassifierConfig(**{**raw, "channels": tuple(raw["channels"])})
    with torch.inference_mode(False):  # guidance takes gradients through it
        model = ShapeClassifier(config)
        model.load_state_dict(load_file(str(path)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    return ShapeCritic(model, f"miniworld-shapes-{digest}")
