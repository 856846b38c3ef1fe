"""Train the miniworld shape classifier (:mod:`anypix.models.miniworld.shape_classifier`).

    python -m anypix.models.miniworld.train_shape_classifier --out DIR [--steps 1000 --seed 0]

Examples are the objects of rendered scenes (seeds from 10,000,000, like the UNet's training
scenes; the fidelity benchmark's start at 100,000), each patched in its blob's frame with the
asked colour. So that the classifier reads a denoiser's *predicted* clean images too (soft,
low-contrast, a little noisy, the shape not quite on its blob), every scene is blurred by a
random Gaussian, its contrast shrunk, noise added, and each blob's pose jittered; patches are
flipped across the major axis only, which maps every shape of the world onto itself. (The world
draws a triangle's apex along its blob's major axis, so flipping along that axis as well, as the
first critic was trained (``--flip-major``), makes the critic's triangle two-headed and guidance
pulls an ellipse both ways at once; see docs/shape-guidance.md.) Deterministic for a seed, on CPU.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from anypix.models.miniworld.data import SHAPES, random_scene, render
from anypix.models.miniworld.shape_classifier import (
    ShapeClassifier,
    ShapeClassifierConfig,
    blob_patches,
    save_classifier,
)
from anypix.plan import Blob

TRAIN_SEEDS = 10_000_000  # the UNet's training scenes start here too
HELD_OUT_SEEDS = 7_777_777


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch: int = 128  # objects per step
    lr: float = 2e-3
    seed: int = 0
    scenes: int = 3000  # rendered once; each step augments a fresh draw from them
    max_blur: float = 2.5  # Gaussian sigma in pixels (at 64x64)
    max_noise: float = 0.3  # noise std in [-1, 1] units
    min_contrast: float = 0.3  # the image is pulled towards its mean by down to this factor
    # Blob pose jitter: the centre by up to this fraction of the canvas, the semi-axes by up to
    # 5x it (relative), the angle by up to 400x it in degrees.
    jitter: float = 0.03
    # Also flip patches along the major axis (the first shipped critic did): turns triangles round.
    flip_major: bool = False


# Rendered scenes, and per object: its scene's index, blob, colour and shape's index.
ObjectPool = tuple[torch.Tensor, list[int], list[Blob], list[str], list[int]]


def object_pool(first_seed: int, scenes: int) -> ObjectPool:
    """Rendered scenes (S, 3, 64, 64) in [-1, 1] and, per object: its scene index, blob, colour
    and shape index."""
    images, scene_of, blobs, colours, labels = [], [], [], [], []
    for index in range(scenes):
        scene = random_scene(first_seed + index, min_objects=1)
        images.append(render(scene)[0])
        for obj in scene.objects:
            scene_of.append(index)
            blobs.append(obj.blob)
            colours.append(obj.colour)
            labels.append(SHAPES.index(obj.shape))
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return pixels, scene_of, blobs, colours, labels


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, 3, H, W) images, edges replicated."""
    if sigma < 0.3:
        return images
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(3, 1)
    padded = F.pad(images, (radius,) * 4, mode="replicate")
    across = F.conv2d(padded, kernel.view(3, 1, 1, -1), groups=3)
    return F.conv2d(across, kernel.view(3, 1, -1, 1), groups=3)


def degrade(pixels: torch.Tensor, rng: np.random.Generator, config: TrainConfig,
            groups: int = 4) -> torch.Tensor:  # fmt: skip
    """Blur (one random sigma per group of rows), shrink the contrast of and noise each image."""
    chunks = pixels.chunk(groups)
    blurred = torch.cat([gaussian_blur(c, float(rng.uniform(0, config.max_blur))) for c in chunks])
    count = len(pixels)
    contrast = torch.from_numpy(rng.uniform(config.min_contrast, 1.0, count)).float()
    spread = torch.from_numpy(rng.uniform(0, config.max_noise, count)).float()
    noise = torch.from_numpy(rng.standard_normal(pixels.shape)).float()
    mean = blurred.mean(dim=(2, 3), keepdim=True)
    shrunk = mean + contrast[:, None, None, None] * (blurred - mean)
    return shrunk + spread[:, None, None, None] * noise


def jittered(blob: Blob, rng: np.random.Generator, amount: float) -> Blob:
    return blob.model_copy(update={
        "cx": blob.cx + rng.uniform(-amount, amount), "cy": blob.cy + rng.uniform(-amount, amount),
        "a": blob.a * rng.uniform(1 - 5 * amount, 1 + 5 * amount),
        "b": blob.b * rng.uniform(1 - 5 * amount, 1 + 5 * amount),
        "angle": blob.angle + rng.uniform(-400 * amount, 400 * amount)})  # fmt: skip


def batch_patches(pool: ObjectPool, picks: np.ndarray, rng: np.random.Generator, config: TrainConfig,
                  classifier: ShapeClassifierConfig, augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    pixels, scene_of, blobs, colours, labels = pool
    images = pixels[[scene_of[i] for i in picks]]
    chosen = [blobs[i] for i in picks]
    if augment:
        images = degrade(images, rng, config)
        chosen = [jittered(blob, rng, config.jitter) for blob in chosen]
    patches = blob_patches(images, chosen, [colours[i] for i in picks], classifier)
    if augment:
        # Patch x runs along the major axis (the triangle's apex), y across it.
        flips = torch.from_numpy(rng.random((len(picks), 2)) < 0.5)
        if config.flip_major:
            patches = torch.where(flips[:, 0, None, None, None], patches.flip(-1), patches)
        patches = torch.where(flips[:, 1, None, None, None], patches.flip(-2), patches)
    return patches, torch.tensor([labels[i] for i in picks])


def evaluate(model: ShapeClassifier, config: TrainConfig, count: int = 800) -> dict[str, float]:
    """Accuracy on held-out scenes' objects, clean and degraded like training."""
    pool = object_pool(HELD_OUT_SEEDS, count // 2)
    rng = np.random.default_rng([HELD_OUT_SEEDS, config.seed])
    picks = np.arange(len(pool[1]))
    result = {}
    with torch.no_grad():
        for name, augment in (("clean", False), ("degraded", True)):
            patches, labels = batch_patches(pool, picks, rng, config, model.config, augment)
            result[f"accuracy_{name}"] = float((model(patches).argmax(1) == labels).float().mean())
    result["objects"] = float(len(picks))
    return result


def train(out_dir: Path, config: TrainConfig) -> dict[str, float]:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng([TRAIN_SEEDS, config.seed])
    started = time.perf_counter()
    pool = object_pool(TRAIN_SEEDS + config.seed * config.scenes, config.scenes)
    print(f"{len(pool[1])} objects ({time.perf_counter() - started:.0f} s)")
    model = ShapeClassifier()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.steps)
    for step in range(config.steps):
        picks = rng.integers(0, len(pool[1]), config.batch)
        patches, labels = batch_patches(pool, picks, rng, config, model.config)
        loss = F.cross_entropy(model(patches), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == config.steps - 1:
            print(f"step {step}: loss {loss.item():.4f} ({time.perf_counter() - started:.0f} s)")
    model.eval()
    metrics = evaluate(model, config)
    training = {**asdict(config), "seconds": round(time.perf_counter() - started, 1), **metrics}
    save_classifier(model, out_dir, training)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the weights")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--scenes", type=int, default=TrainConfig.scenes, help="rendered scenes")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--flip-major", action="store_true",
                        help="also flip patches along the major axis (the first critic's recipe)")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, seed=args.seed, scenes=args.scenes,
                         flip_major=args.flip_major)  # fmt: skip
    print(train(args.out, config))


if __name__ == "__main__":
    main()
