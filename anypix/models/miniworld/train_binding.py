"""Training the miniworld binding encoder (and its refinement prior), with held-out evaluation.

Every step draws, from (seed, step) alone so a resumed run sees the data it would have seen:

* single objects (random colour, shape, size, place, angle) on random styled backgrounds, paired
  with four texts: "a {size} {colour} {shape}", "a {colour} {shape}", "a {colour} object",
  "a {shape}" -- each a cross-entropy over that whole (finite) vocabulary, plus text -> image;
* tones from a pool (random seed, 0.5-1.5 s, gain, noise) paired with "a {colour} {shape}",
  "a {colour} object" and with the batch's images of the same colour and shape;
* empty styled backgrounds paired with their style sentence ("warm stripes", "flat night");
* whole scenes paired with their captions (a pool of captions embedded once).

Pairs that share a label are all positives (multi-positive InfoNCE), so a batch with two red
rings does not push them apart. MiniLM embeddings of every training sentence are computed once.

    python -m anypix.models.miniworld.train_binding --out runs/binding --steps 2500 --prior-steps 2000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from anypix.models.device import pick_device
from anypix.models.miniworld.binding import (
    CONFIG_FILE,
    PRIOR_FILE,
    WEIGHTS_FILE,
    BindingConfig,
    BindingMetadata,
    BindingModel,
    load_binding,
    log_spectrum,
)
from anypix.models.miniworld.data import (
    COLOURS,
    PALETTES,
    SHAPES,
    SIZES,
    TEXTURES,
    MiniObject,
    Scene,
    Style,
    random_object,
    random_scene,
    random_style,
    render,
    tone,
)

COLOUR_NAMES, SIZE_NAMES = list(COLOURS), list(SIZES)
STYLES = [Style(p, t) for p in PALETTES for t in TEXTURES]
Progress = Callable[[int, int, dict[str, float]], None]
HELD_OUT = 7_777_777  # first word of every evaluation seed; training seeds start with `seed`


def vocabulary() -> dict[str, list[str]]:
    """Every training sentence by level; label indices below index these lists."""
    return {
        "object": [f"a {z} {c} {s}" for z in SIZE_NAMES for c in COLOUR_NAMES for s in SHAPES],
        "colour_shape": [f"a {c} {s}" for c in COLOUR_NAMES for s in SHAPES],
        "colour": [f"a {c} object" for c in COLOUR_NAMES],
        "shape": [f"a {s}" for s in SHAPES],
        "style": [s.describe() for s in STYLES],
    }


def labels(obj: MiniObject) -> tuple[int, int, int, int]:
    """(object, colour_shape, colour, shape) indices into :func:`vocabulary`."""
    c, s, z = COLOUR_NAMES.index(obj.colour), SHAPES.index(obj.shape), SIZE_NAMES.index(obj.size)
    return (z * len(COLOURS) + c) * len(SHAPES) + s, c * len(SHAPES) + s, c, s


def to_pixels(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def object_batch(rng: np.random.Generator, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Single objects on random backgrounds: pixels (B, 3, 64, 64), labels (B, 4)."""
    images, rows = [], []
    for _ in range(count):
        style, obj = random_style(rng), random_object(rng)
        images.append(render(Scene(0, style, (obj,)))[0])
        rows.append(labels(obj))
    return to_pixels(images), torch.tensor(rows)


def style_batch(rng: np.random.Generator, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, rows = [], []
    for _ in range(count):
        style = random_style(rng)
        images.append(render(Scene(0, style))[0])
        rows.append(STYLES.index(Style(style.palette, style.texture)))
    return to_pixels(images), torch.tensor(rows)


def tone_pool(count: int, seed: int, config: BindingConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectra (count, bins) of augmented tones and their colour_shape labels."""
    spectra, rows = [], []
    for index in range(count):
        rng = np.random.default_rng([seed, 1, index])
        c, s = int(rng.integers(len(COLOURS))), int(rng.integers(len(SHAPES)))
        wave = tone(
            COLOUR_NAMES[c], SHAPES[s], float(rng.uniform(0.5, 1.5)), int(rng.integers(2**31))
        )
        wave = wave * rng.uniform(0.2, 1.0) + rng.normal(0, rng.uniform(0, 0.03), wave.shape)
        spectra.append(log_spectrum(torch.from_numpy(wave.astype(np.float32)), config))
        rows.append(c * len(SHAPES) + s)
    return torch.stack(spectra), torch.tensor(rows)


def _ce(
    query: torch.Tensor, keys: torch.Tensor, target: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    return nn.functional.cross_entropy(scale * query @ keys.T, target)


def _multi_positive(
    query: torch.Tensor, keys: torch.Tensor, positives: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """InfoNCE where every key marked in ``positives`` (Q, K) counts; rows without one drop out."""
    rows = positives.any(dim=1)
    if not bool(rows.any()):
        return query.new_zeros(())
    log_prob = (scale * query[rows] @ keys.T).log_softmax(dim=1)
    return -torch.logsumexp(log_prob.masked_fill(~positives[rows], -math.inf), dim=1).mean()


@dataclass(frozen=True)
class TrainBindingConfig:
    steps: int = 2500
    batch: int = 128  # objects and tones per step; styles and scenes a quarter each
    seed: int = 0
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    checkpoint_every: int = 200
    tones: int = 6144  # tone pool size (tones are slow to synthesise; spectra are cached)
    captions: int = 512  # scene caption pool size (MiniLM runs once per caption)


def _lr(step: int, config: TrainBindingConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class TrainingData:
    """Everything fixed for a run: MiniLM vectors of the vocabulary and captions, tone spectra."""

    def __init__(self, config: TrainBindingConfig, binding: BindingConfig, minilm: Any) -> None:
        self.vocabulary = vocabulary()
        self.scene_seeds = [config.seed * 1_000_003 + 17 + i for i in range(config.captions)]
        captions = [
            random_scene(s, max_objects=4, min_objects=1).caption() for s in self.scene_seeds
        ]
        sentences = [t for level in self.vocabulary.values() for t in level] + captions
        vectors = minilm.embed(sentences, "text")
        self.sentences: dict[str, torch.Tensor] = {}
        start = 0
        for name, level in self.vocabulary.items():
            self.sentences[name] = vectors[start : start + len(level)]
            start += len(level)
        self.captions = vectors[start:]
        self.scene_images = np.stack(
            [render(random_scene(s, max_objects=4, min_objects=1))[0] for s in self.scene_seeds]
        )
        self.tone_spectra, self.tone_labels = tone_pool(config.tones, config.seed, binding)

    def step_loss(
        self, model: BindingModel, config: TrainBindingConfig, step: int, device: str
    ) -> tuple[torch.Tensor, dict[str, float]]:
        rng = np.random.default_rng([config.seed, step])
        quarter = max(2, config.batch // 4)
        obj_pixels, obj_labels = object_batch(rng, config.batch)
        style_pixels, style_labels = style_batch(rng, quarter)
        scene_rows = rng.integers(len(self.scene_seeds), size=quarter)
        scene_pixels = to_pixels(list(self.scene_images[scene_rows]))
        tone_rows = torch.from_numpy(rng.integers(len(self.tone_labels), size=config.batch))
        obj_labels, style_labels = obj_labels.to(device), style_labels.to(device)
        tone_labels = self.tone_labels[tone_rows].to(device)

        scale = model.scale()
        text = {k: model.encode_text(v.to(device)) for k, v in self.sentences.items()}
        images = model.encode_image(obj_pixels.to(device))
        tones = model.encode_spectrum(self.tone_spectra[tone_rows].to(device))
        styles = model.encode_image(style_pixels.to(device))
        scenes = model.encode_image(scene_pixels.to(device))
        captions = model.encode_text(self.captions[torch.from_numpy(scene_rows)].to(device))

        cs = obj_labels[:, 1]
        present = cs.unique()
        same_tone = tone_labels[:, None] == cs[None]
        same_scene = torch.from_numpy(scene_rows[:, None] == scene_rows[None]).to(device)
        image_text = _multi_positive(
            text["colour_shape"][present], images, present[:, None] == cs[None], scale
        )
        for i, level in enumerate(("object", "colour_shape", "colour", "shape")):
            image_text = image_text + _ce(images, text[level], obj_labels[:, i], scale)
        parts = {
            "image_text": image_text,
            "audio_text": _ce(tones, text["colour_shape"], tone_labels, scale)
            + _ce(tones, text["colour"], tone_labels // len(SHAPES), scale),
            "audio_image": _multi_positive(tones, images, same_tone, scale)
            + _multi_positive(images, tones, same_tone.T, scale),
            "style": _ce(styles, text["style"], style_labels, scale),
            "scene": _multi_positive(scenes, captions, same_scene, scale)
            + _multi_positive(captions, scenes, same_scene, scale),
        }
        loss = torch.stack(list(parts.values())).sum()
        stats = {k: float(v.detach()) for k, v in parts.items()} | {"scale": float(scale.detach())}
        return loss, stats


def train_binding(
    out_dir: Path,
    *,
    steps: int,
    batch: int = 128,
    seed: int = 0,
    resume: bool = True,
    progress: Progress | None = None,
    evaluate: bool = True,
    tones: int | None = None,
    captions: int | None = None,
    minilm: Any = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Train (or resume) on ``device`` and write ``binding.safetensors`` (fp16) and ``binding.json``.
    ``checkpoint.pt`` (model + optimizer) is written every 200 steps and at the end. ``tones``
    and ``captions`` size the fixed pools (default: from ``batch``); ``minilm`` reuses a loaded
    :class:`~anypix.models.encoders.MiniLMEncoder`."""
    started = time.perf_counter()
    defaults = TrainBindingConfig()
    config = TrainBindingConfig(
        steps=steps,
        batch=batch,
        seed=seed,
        tones=tones if tones is not None else min(defaults.tones, 48 * batch),
        captions=captions if captions is not None else min(defaults.captions, 4 * batch),
    )
    device = str(pick_device(device))
    binding = BindingConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.pt"
    # 1. Model and optimizer, from the checkpoint when resuming.
    torch.manual_seed(seed)
    model = BindingModel(binding).to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ],
        lr=config.lr,
    )
    step, losses, seconds = 0, [], 0.0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state["binding_config"] != asdict(binding) or state["seed"] != seed:
            raise ValueError(f"{checkpoint} is from another config or seed; use a new --out")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, losses, seconds = state["step"], list(state["losses"]), state["seconds"]
    # 2. Fixed data: sentence vectors and tone spectra.
    from anypix.models.encoders import MiniLMEncoder

    minilm = minilm or MiniLMEncoder("cpu")
    data = TrainingData(config, binding, minilm)
    # 3. The loop.
    model.train()
    loop_started = time.perf_counter()
    while step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, config)
        loss, stats = data.step_loss(model, config, step, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
        if progress:
            progress(step, config.steps, {"loss": losses[-1], **stats})
        if step % config.checkpoint_every == 0 or step == config.steps:
            elapsed = seconds + time.perf_counter() - loop_started
            _save_checkpoint(checkpoint, model, optimizer, step, losses, elapsed, binding, seed)
    seconds += time.perf_counter() - loop_started
    # 4. Weights, then held-out evaluation from the saved (fp16) weights.
    _save_weights(out_dir, model, binding)
    training = {
        "steps": step,
        "batch": batch,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "total_seconds_this_run": round(time.perf_counter() - started, 1),
        "device": device,
        "threads": torch.get_num_threads(),
        "final_loss": round(float(np.mean(losses[-50:])), 4) if losses else None,
    }
    metadata = BindingMetadata(binding, data.vocabulary, {}, training)
    (out_dir / CONFIG_FILE).write_text(metadata.to_json())
    if evaluate:
        encoder = load_binding(out_dir, device, minilm=minilm)
        metadata.metrics = evaluate_binding(encoder)
        (out_dir / CONFIG_FILE).write_text(metadata.to_json())
    return {"training": training, "metrics": metadata.metrics}


def _save_checkpoint(
    path: Path,
    model: BindingModel,
    optimizer: torch.optim.Optimizer,
    step: int,
    losses: list[float],
    seconds: float,
    binding: BindingConfig,
    seed: int,
) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "losses": losses,
        "seconds": seconds,
        "binding_config": asdict(binding),
        "seed": seed,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a crash mid-save leaves the previous checkpoint intact


def _save_weights(out_dir: Path, model: BindingModel, binding: BindingConfig) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE))


# -- evaluation ----------------------------------------------------------------------------------


def held_out_objects(count: int, salt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return object_batch(np.random.default_rng([HELD_OUT, salt, 0]), count)


def held_out_tones(count: int, salt: int = 0) -> tuple[list[np.ndarray], torch.Tensor]:
    """Tones with new seeds and durations (no extra augmentation): waveforms, colour_shape labels."""
    rng = np.random.default_rng([HELD_OUT, salt, 1])
    waves, rows = [], []
    for _ in range(count):
        c, s = int(rng.integers(len(COLOURS))), int(rng.integers(len(SHAPES)))
        waves.append(
            tone(COLOUR_NAMES[c], SHAPES[s], float(rng.uniform(0.5, 1.5)), int(rng.integers(2**31)))
        )
        rows.append(c * len(SHAPES) + s)
    return waves, torch.tensor(rows)


def _accuracy(predicted: torch.Tensor, target: torch.Tensor) -> float:
    return round(float((predicted.cpu() == target.cpu()).float().mean()), 4)


def evaluate_binding(
    encoder: Any, objects: int = 960, tones: int = 640, styles: int = 360
) -> dict[str, Any]:
    """Zero-shot accuracy on held-out seeds (images, tones, styles never seen in training)."""
    vocab = vocabulary()
    text = {k: encoder.embed_texts(v).cpu() for k, v in vocab.items()}
    pixels, obj = held_out_objects(objects)
    with torch.no_grad():
        images = torch.cat([encoder.embed_pixels(p).cpu() for p in pixels.split(256)])
    best = (images @ text["object"].T).argmax(dim=1)
    n_shapes, n_colours = len(SHAPES), len(COLOURS)
    waves, tone_cs = held_out_tones(tones)
    audio = encoder.embed_waveforms(waves).cpu()
    tone_best = (audio @ text["colour_shape"].T).argmax(dim=1)
    nearest = (audio @ images.T).argmax(dim=1)
    rng = np.random.default_rng([HELD_OUT, 0, 2])
    style_pixels, style_labels = style_batch(rng, styles)
    with torch.no_grad():
        style_vectors = encoder.embed_pixels(style_pixels).cpu()
    return {
        "image_object_96": _accuracy(best, obj[:, 0]),
        "image_colour_from_96": _accuracy((best // n_shapes) % n_colours, obj[:, 2]),
        "image_shape_from_96": _accuracy(best % n_shapes, obj[:, 3]),
        "image_size_from_96": _accuracy(
            best // (n_shapes * n_colours), obj[:, 0] // (n_shapes * n_colours)
        ),
        "image_colour_8": _accuracy((images @ text["colour"].T).argmax(1), obj[:, 2]),
        "image_shape_4": _accuracy((images @ text["shape"].T).argmax(1), obj[:, 3]),
        "audio_colour_shape_32": _accuracy(tone_best, tone_cs),
        "audio_colour_from_32": _accuracy(tone_best // n_shapes, tone_cs // n_shapes),
        "audio_shape_from_32": _accuracy(tone_best % n_shapes, tone_cs % n_shapes),
        "audio_to_image_colour": _accuracy(obj[nearest, 2], tone_cs // n_shapes),
        "audio_to_image_shape": _accuracy(obj[nearest, 3], tone_cs % n_shapes),
        "style_36": _accuracy((style_vectors @ text["style"].T).argmax(1), style_labels),
        "held_out": {"objects": objects, "tones": tones, "styles": styles},
    }


# -- the refinement prior ------------------------------------------------------------------------


def prior_pairs(encoder: Any, images: int, seed: int, path: Path) -> None:
    """An ``.npz`` of (source, modality, score, target) rows for :class:`PairFile`: per object
    image, its three descriptions (text), a tone of its colour and shape (audio) and a noisy
    copy of itself (image) -> its image embedding. The last tenth of images are held out, and
    their rows are the last tenth of the file. Scores are random: the world has no quality."""
    vocab = vocabulary()
    text = {k: encoder.embed_texts(v).cpu() for k, v in vocab.items()}
    rng = np.random.default_rng([seed, 2])
    chunks, targets = [], []
    for start in range(0, images, 250):  # 250 images at a time: 10k float images are 0.5 GB
        pixels, chunk = object_batch(rng, min(250, images - start))
        with torch.no_grad():
            targets.append(encoder.embed_pixels(pixels).cpu())
        chunks.append(chunk)
    obj, target = torch.cat(chunks), torch.cat(targets)
    waves = [
        tone(
            COLOUR_NAMES[int(c)],
            SHAPES[int(s)],
            float(rng.uniform(0.5, 1.5)),
            int(rng.integers(2**31)),
        )
        for c, s in obj[:, 2:].tolist()
    ]
    audio = encoder.embed_waveforms(waves).cpu()
    noise = nn.functional.normalize(
        torch.randn(images, target.shape[1], generator=torch.Generator().manual_seed(seed)), dim=-1
    )
    strength = torch.from_numpy(rng.uniform(0.3, 1.0, (images, 1))).float()
    noisy = nn.functional.normalize(target + strength * noise, dim=-1)
    sources = [
        text["object"][obj[:, 0]],
        text["colour_shape"][obj[:, 1]],
        text["colour"][obj[:, 2]],
        audio,
        noisy,
    ]
    modalities = [1, 1, 1, 2, 0]
    cut = images - images // 10
    rows: dict[str, list[np.ndarray]] = {"source": [], "modality": [], "target": []}
    for part in (slice(0, cut), slice(cut, None)):
        for source, modality in zip(sources, modalities, strict=True):
            rows["source"].append(source[part].numpy())
            rows["modality"].append(np.full(len(source[part]), modality))
            rows["target"].append(target[part].numpy())
    source = np.concatenate(rows["source"]).astype(np.float32)
    np.savez(
        path,
        source=source,
        modality=np.concatenate(rows["modality"]).astype(np.int64),
        score=rng.uniform(0, 10, len(source)).astype(np.float32),
        target=np.concatenate(rows["target"]).astype(np.float32),
    )


def train_miniworld_prior(
    weights_dir: Path,
    *,
    steps: int = 2000,
    images: int = 10000,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Train the refinement prior on the binding encoder in ``weights_dir`` (on ``device``) and
    write the shipped
    ``prior.pt`` there (model and config only; the resumable checkpoint stays in prior-work/)."""
    from anypix.models.prior import PriorConfig
    from anypix.models.prior_training import TrainPriorConfig, train_prior

    encoder = load_binding(weights_dir)
    work = weights_dir / "prior-work"
    work.mkdir(parents=True, exist_ok=True)
    pairs = work / "pairs.npz"
    if not pairs.exists():
        prior_pairs(encoder, images, seed, pairs)
    config = TrainPriorConfig(
        steps=steps,
        batch=256,
        lr=1e-3,
        warmup=100,
        checkpoint_every=500,
        seed=seed,
        data=str(pairs),
        device=device,
    )
    report = train_prior(
        work, config, PriorConfig(dim=encoder.dim, width=128, layers=2, heads=4), log=log
    )
    state = torch.load(work / "prior.pt", map_location="cpu", weights_only=True)
    torch.save(
        {
            "model": state["model"],
            "prior_config": state["prior_config"],
            "encoder_id": encoder.encoder_id,  # load_miniworld_prior checks it still matches
        },
        weights_dir / PRIOR_FILE,
    )
    result = {
        "steps": report.step,
        "seconds": round(report.seconds, 1),
        "prior_l2": round(report.prior_l2, 4),
        "identity_l2": round(report.identity_l2, 4),
        "per_modality_prior_vs_identity_l2": {
            k: [round(a, 4), round(b, 4)] for k, (a, b) in report.per_modality.items()
        },
    }
    meta_path = weights_dir / CONFIG_FILE
    raw = json.loads(meta_path.read_text())
    raw["metrics"]["prior"] = result
    meta_path.write_text(json.dumps(raw, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m anypix.models.miniworld.train_binding",
        description="Train the miniworld binding encoder (text/image/audio -> one 128-d space) "
        "and optionally its refinement prior. Resumes from OUT/checkpoint.pt. To ship, copy "
        "binding.safetensors, binding.json and prior.pt into anypix/models/miniworld/weights/.",
    )
    parser.add_argument("--out", type=Path, required=True, help="run directory (created)")
    parser.add_argument("--steps", type=int, default=2500, help="total optimizer steps")
    parser.add_argument("--batch", type=int, default=128, help="objects and tones per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--prior-steps", type=int, default=0, help="then train the prior (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch < 2:
        parser.error("--steps must be >= 1 and --batch >= 2")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    def show(step: int, total: int, stats: dict[str, float]) -> None:
        if step % 25 == 0 or step == total:
            parts = " ".join(f"{k} {v:.3f}" for k, v in stats.items())
            print(f"step {step}/{total} {time.perf_counter() - started:.0f}s {parts}", flush=True)

    result = train_binding(
        args.out,
        steps=args.steps,
        batch=args.batch,
        seed=args.seed,
        resume=not args.fresh,
        progress=show,
        device=args.device,
    )
    print(json.dumps(result, indent=2), flush=True)
    if args.prior_steps:
        prior = train_miniworld_prior(args.out, steps=args.prior_steps, seed=args.seed, log=print,
                                      device=args.device)  # fmt: skip
        print(json.dumps({"prior": prior}, indent=2), flush=True)


if __name__ == "__main__":
    main()
