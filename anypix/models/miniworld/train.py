"""Train the miniworld diffusion model (UNet with blob layers, painter, subject tokens, and its
text encoder) on freshly drawn scenes. CPU-capable, faster on a GPU, resumable.

    python -m anypix.models.miniworld.train --out runs/miniworld --steps 4000
    anypix train miniworld --out runs/miniworld --steps 4000

Every step draws ``batch`` new scenes (training seeds start at :data:`TRAIN_SEED_BASE`; the
fidelity benchmark holds out seeds below it). Objectives and schedule follow what the CPU
feasibility runs found best (``MEASUREMENTS.md``): v-prediction on a cosine schedule, AdamW at
8e-4 with 100 warm-up steps, gradient clip 1, EMA 0.995. Conditions are dropped as in BlobGEN:
the caption half the time, everything (caption, blobs, subject) 10% of the time, so guidance
works. A checkpoint is written every ``checkpoint_every`` steps and on Ctrl-C; running again
with the same ``--out`` resumes. ``export`` writes the EMA weights as fp16 safetensors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from anypix.models.blob import BlobBatch, blob_geometry, blob_masks, get_blob_layers
from anypix.models.device import pick_device
from anypix.models.miniworld.data import (
    SIZES,
    MiniObject,
    Scene,
    colour_mask,
    random_object,
    random_scene,
    random_style,
    render,
    tone,
)
from anypix.models.miniworld.metrics import classify_shape
from anypix.models.miniworld.model import (
    MiniworldConfig,
    build_scheduler,
    build_text_encoder,
    build_unet,
    load_tokenizer,
    silhouettes,
    write_word_tokenizer,
)
from anypix.models.miniworld.words import SYNONYMS

TRAIN_SEED_BASE = 10_000_000
MAX_BLOBS = 5
SUBJECT_NAMES = ("ref", "tone", "it", "thing", "dog", "sound", "object", "an object")
# Sentences of a blob that holds no object: the region shows the background (the remove op).
EMPTY_SENTENCES = ("background", "empty", "empty background", "just background", "nothing")


@dataclass
class TrainOptions:
    steps: int = 4000
    batch: int = 32
    lr: float = 8e-4
    warmup: int = 100
    ema: float = 0.995
    seed: int = 0
    checkpoint_every: int = 200
    eval_every: int = 250
    caption_drop: float = 0.5
    uncond_drop: float = 0.1
    subject_steps: float = 0.35  # fraction of steps that carry subject tokens ...
    late_subject_steps: float = 0.6  # ... and from two thirds on, once scenes have formed
    # Fraction of scenes where one object is taken out but its blob stays, saying "background":
    # the model learns an empty region, which is what remove and move paint into the old place.
    empty_regions: float = 0.0
    init: Path | None = None  # exported weights to start from (a later stage of the recipe)
    threads: int = 0  # 0: torch's default
    bf16: bool | None = None  # bfloat16 autocast; None: on CUDA, or CPUs with AVX-512 BF16
    device: str = "auto"
    config: MiniworldConfig = field(default_factory=MiniworldConfig)


# -- batches ------------------------------------------------------------------------------------------
def augment(text: str, rng: np.random.Generator, p: float = 0.25, terse: float = 0.3) -> str:
    """Phrase a description as people (and the planner) do: synonyms (ellipse -> ball, rectangle
    -> box ...) and, each with probability ``terse``, no sizes ("a red ellipse", as the planner
    writes a blob) and no articles ("red ellipse"). (Until v3 both went together, and a model
    fine-tuned that way lost the colour of "a red ring": it had never seen that form.)"""
    words = text.split()
    if rng.random() < terse:
        words = [w for w in words if w not in SIZES] or words
    if rng.random() < terse:
        words = [w for w in words if w not in ("a", "an")] or words
    for i, word in enumerate(words):
        if word in SYNONYMS and rng.random() < p:
            words[i] = str(rng.choice(SYNONYMS[word]))
    return " ".join(words)


@dataclass
class Sample:
    image: np.ndarray  # (64, 64, 3) uint8
    caption: str
    blobs: list[Any]  # plan Blobs, descriptions possibly rewritten
    subject: MiniObject | None = None


def draw_sample(rng: np.random.Generator, options: TrainOptions, with_subject: bool) -> Sample:
    seed = int(rng.integers(TRAIN_SEED_BASE, 2**31 - 1))
    scene = random_scene(seed, max_objects=MAX_BLOBS)
    emptied = None
    if scene.objects and rng.random() < options.empty_regions:
        gone = int(rng.integers(len(scene.objects)))
        emptied = scene.objects[gone].blob
        scene = Scene(scene.seed, scene.style, scene.objects[:gone] + scene.objects[gone + 1 :])
    image, _ = render(scene, options.config.image_size)
    objects = list(scene.objects)
    caption = augment(scene.caption(), rng)
    if objects and rng.random() < 0.15:  # partial layouts: the caption may name more than the blobs
        keep = rng.random(len(objects)) < 0.5
        objects = [o for o, k in zip(objects, keep, strict=True) if k]
    blobs = [
        o.blob.model_copy(update={"description": augment(o.sentence(), rng, terse=0.5)})
        for o in objects
    ]
    if emptied is not None and len(blobs) < MAX_BLOBS:
        spot = int(rng.integers(len(blobs) + 1))
        blobs.insert(
            spot, emptied.model_copy(update={"description": str(rng.choice(EMPTY_SENTENCES))})
        )
    subject = None
    if with_subject and objects:
        index = int(rng.integers(len(objects)))
        subject = objects[index]
        if rng.random() < 0.7:  # a plan for "add [ref] ..." names the reference, not its content
            name = str(rng.choice(SUBJECT_NAMES))
            blobs[index] = blobs[index].model_copy(update={"description": name})
            if rng.random() < 0.5:
                caption = f"with {name}"
    if rng.random() < options.caption_drop:
        caption = ""
    return Sample(image, caption, blobs, subject)


def subject_vectors(
    binding: Any, subjects: list[MiniObject], rng: np.random.Generator
) -> torch.Tensor:
    """Binding-space vectors for subject objects: an image of the object alone (on a random
    background, elsewhere in the frame) 60%, its tone 30%, its description 10%."""
    kinds = rng.choice(3, size=len(subjects), p=[0.6, 0.3, 0.1])
    vectors = torch.zeros(len(subjects), binding.dim)
    images, image_rows, waves, wave_rows, texts, text_rows = [], [], [], [], [], []
    for row, (obj, kind) in enumerate(zip(subjects, kinds, strict=True)):
        if kind == 0:
            alone = random_object(rng, colour=obj.colour, shape=obj.shape)
            scene = Scene(0, random_style(rng), (alone,))
            images.append(render(scene, 64)[0])
            image_rows.append(row)
        elif kind == 1:
            seconds = float(rng.uniform(0.5, 1.5))
            waves.append(tone(obj.colour, obj.shape, seconds, int(rng.integers(1 << 30))))
            wave_rows.append(row)
        else:
            texts.append(obj.sentence())
            text_rows.append(row)
    with torch.no_grad():
        if images:
            pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
            vectors[image_rows] = binding.embed_pixels(pixels).float().cpu()
        if waves:
            vectors[wave_rows] = binding.embed_waveforms(waves).float().cpu()
        if texts:
            vectors[text_rows] = binding.embed_texts(texts).float().cpu()
    return vectors


@dataclass
class Batch:
    latents: torch.Tensor  # (B, 12, 32, 32)
    caption_ids: torch.Tensor  # (B, max_length)
    sentence_ids: torch.Tensor  # (B * MAX_BLOBS, sentence_length)
    sentence_mask: torch.Tensor  # (B, MAX_BLOBS, sentence_length) bool
    geometry: torch.Tensor  # (B, MAX_BLOBS, 6)
    masks: torch.Tensor  # (B, MAX_BLOBS, 64, 64) bool
    subjects: torch.Tensor | None  # (B, binding_dim), rows without a subject are NaN
    uncond: torch.Tensor  # (B,) bool: everything dropped


def text_and_layout(
    captions: list[str], layouts: list[list[Any]], uncond: torch.Tensor, config: MiniworldConfig,
    tokenizer: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Caption ids and the blob slots of a batch: (caption_ids, sentence_ids, sentence_mask,
    geometry, masks); empty slots and unconditional rows have no real sentence tokens."""
    size, rows = config.image_size, len(captions)
    captions = ["" if u else c for c, u in zip(captions, uncond.tolist(), strict=True)]
    caption_ids = tokenizer(
        captions, padding="max_length", max_length=config.max_length, truncation=True,
        return_tensors="pt",
    ).input_ids  # fmt: skip
    sentences, geometry = [], torch.zeros(rows, MAX_BLOBS, 6)
    masks = torch.zeros(rows, MAX_BLOBS, size, size, dtype=torch.bool)
    for row, layout in enumerate(layouts):
        blobs = layout[:MAX_BLOBS]
        sentences += [b.description for b in blobs] + [""] * (MAX_BLOBS - len(blobs))
        if blobs:
            geometry[row, : len(blobs)] = blob_geometry(blobs)
            regions = silhouettes if config.paint_shapes else blob_masks
            masks[row, : len(blobs)] = regions(blobs, size, size)
    encoded = tokenizer(
        sentences, padding="max_length", max_length=config.sentence_length, truncation=True,
        return_tensors="pt",
    )  # fmt: skip
    sentence_mask = encoded.attention_mask.bool().reshape(rows, MAX_BLOBS, -1)
    empty = torch.tensor([s == "" for s in sentences]).reshape(rows, MAX_BLOBS, 1)
    sentence_mask &= ~empty & ~uncond.reshape(-1, 1, 1)
    return caption_ids, encoded.input_ids, sentence_mask, geometry, masks


def subject_share(step: int, options: TrainOptions) -> float:
    """The fraction of steps that carry subject tokens at ``step``: the scene model forms first."""
    late = step >= options.steps * 2 // 3
    return options.late_subject_steps if late else options.subject_steps


def make_batch(
    rng: np.random.Generator, options: TrainOptions, tokenizer: Any, binding: Any, step: int = 0
) -> Batch:
    config = options.config
    with_subject = binding is not None and rng.random() < subject_share(step, options)
    samples = [draw_sample(rng, options, with_subject) for _ in range(options.batch)]
    uncond = torch.from_numpy(rng.random(len(samples)) < options.uncond_drop)
    pixels = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2)
    latents = F.pixel_unshuffle(pixels.float() / 127.5 - 1.0, 2)
    text = text_and_layout(
        [s.caption for s in samples], [s.blobs for s in samples], uncond, config, tokenizer
    )
    subjects = None
    if with_subject:
        subjects = torch.full((len(samples), config.binding_dim), float("nan"))
        rows = [i for i, s in enumerate(samples) if s.subject is not None and not uncond[i]]
        if rows:
            chosen = [samples[i].subject for i in rows]
            subjects[rows] = subject_vectors(binding, chosen, rng)  # type: ignore[arg-type]
    return Batch(latents, *text, subjects, uncond)


# -- the model step -------------------------------------------------------------------------------------
def conditioning_tokens(
    text_encoder: Any, unet: Any, batch: Batch, device: torch.device
) -> tuple[torch.Tensor, BlobBatch]:
    hidden = text_encoder(batch.caption_ids.to(device))[0]
    if batch.subjects is not None:
        have = ~torch.isnan(batch.subjects[:, 0])
        tokens = unet.subject_tokens.null_tokens(hidden.shape[0]).clone()
        if have.any():
            vectors = batch.subjects[have].to(device)
            tokens[have.to(device)] = unet.subject_tokens(vectors).to(tokens.dtype)
        hidden = torch.cat([hidden, tokens], dim=1)
    words = text_encoder(batch.sentence_ids.to(device))[0]
    b = batch.latents.shape[0]
    blobs = BlobBatch(
        geometry=batch.geometry.to(device),
        token_embeddings=words.reshape(b, MAX_BLOBS, words.shape[1], -1),
        token_mask=batch.sentence_mask.to(device),
        masks=batch.masks.to(device),
    )
    return hidden, blobs


def v_loss(
    unet: Any, text_encoder: Any, alphas: torch.Tensor, batch: Batch, device: torch.device,
    generator: torch.Generator, bf16: bool = False,
) -> torch.Tensor:  # fmt: skip
    x0 = batch.latents.to(device)
    t = torch.randint(0, len(alphas), (x0.shape[0],), generator=generator).to(device)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    a = alphas.to(device)[t].reshape(-1, 1, 1, 1)
    noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
    target = a.sqrt() * noise - (1 - a).sqrt() * x0
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        hidden, blobs = conditioning_tokens(text_encoder, unet, batch, device)
        grounding = get_blob_layers(unet)
        assert grounding is not None
        with grounding.conditioned(blobs):
            prediction = unet(noisy, t, encoder_hidden_states=hidden).sample
    return F.mse_loss(prediction.float(), target.float())


def use_bf16(requested: bool | None, device: torch.device) -> bool:
    if requested is not None:
        return requested
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


# -- training loop ----------------------------------------------------------------------------------------
class EMA:
    def __init__(self, modules: dict[str, torch.nn.Module], decay: float) -> None:
        self.decay = decay
        self.shadow = {
            f"{name}.{k}": v.detach().clone().float()
            for name, module in modules.items()
            for k, v in module.state_dict().items()
        }

    @torch.no_grad()
    def update(self, modules: dict[str, torch.nn.Module], step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for name, module in modules.items():
            for k, v in module.state_dict().items():
                shadow = self.shadow[f"{name}.{k}"]
                if v.dtype.is_floating_point:
                    shadow.mul_(decay).add_(v.detach().float(), alpha=1 - decay)
                else:
                    shadow.copy_(v)

    def state_of(self, name: str) -> dict[str, torch.Tensor]:
        prefix = name + "."
        return {k[len(prefix) :]: v for k, v in self.shadow.items() if k.startswith(prefix)}


def warm_start(modules: dict[str, torch.nn.Module], ema: EMA, weights: Path) -> None:
    """Start from exported weights (fp16 safetensors of an earlier stage), EMA included."""
    from safetensors.torch import load_file

    for name, module in modules.items():
        state = load_file(str(weights / f"{name}.safetensors"))
        module.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
    ema.shadow = EMA(modules, ema.decay).shadow


def learning_rate(step: int, options: TrainOptions) -> float:
    """Linear warm-up, then a cosine decay to 10% at the last step (fine detail - the last bit
    of noise in flat regions - comes in while the rate decays)."""
    warm = min(1.0, (step + 1) / options.warmup)
    progress = min(1.0, step / max(1, options.steps))
    return options.lr * warm * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


def load_binding_for_training() -> Any:
    """The shipped binding encoder, or None (subject steps are skipped until it exists)."""
    try:
        from anypix.models.miniworld.binding import load_encoder

        return load_encoder()
    except Exception:  # not trained yet, or a partial build: train without subject steps
        return None


def train(
    out: Path,
    options: TrainOptions,
    *,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    binding: Any = "auto",
) -> dict[str, Any]:
    """Train (or resume) into ``out``; returns the final log entry."""
    if options.threads:
        torch.set_num_threads(options.threads)
    device = pick_device(options.device)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    state = torch.load(checkpoint_path, weights_only=False) if checkpoint_path.exists() else None
    config = MiniworldConfig.from_dict(state["config"]) if state else options.config
    options.config = config
    tokenizer = load_tokenizer(write_word_tokenizer(out / "tokenizer"), config.max_length)
    torch.manual_seed(options.seed)
    unet, text_encoder = build_unet(config), build_text_encoder(config, tokenizer)
    modules = {"unet": unet, "text_encoder": text_encoder}
    params = [p for m in modules.values() for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=options.lr, weight_decay=0.01)
    ema = EMA(modules, options.ema)
    step, elapsed, log = 0, 0.0, []
    rng = np.random.default_rng(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    if state:
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        ema.shadow = state["ema"]
        step, elapsed, log = state["step"], state["elapsed"], state["log"]
        rng.bit_generator.state = state["rng"]
        generator.set_state(state["generator"])
    elif options.init is not None:
        warm_start(modules, ema, options.init)
    for module in modules.values():
        module.to(device).train()
    look_for_binding = binding == "auto"
    binding = load_binding_for_training() if look_for_binding else binding
    alphas = build_scheduler().alphas_cumprod.float()
    bf16 = use_bf16(options.bf16, device)

    def save() -> None:
        payload = {
            "config": config.to_dict(), "unet": unet.state_dict(),
            "text_encoder": text_encoder.state_dict(), "optimizer": optimizer.state_dict(),
            "ema": ema.shadow, "step": step, "elapsed": elapsed, "log": log,
            "rng": rng.bit_generator.state, "generator": generator.get_state(),
            "binding": getattr(binding, "encoder_id", None), "bf16": bf16,
        }  # fmt: skip
        temporary = checkpoint_path.with_suffix(".tmp")
        torch.save(payload, temporary)
        os.replace(temporary, checkpoint_path)

    losses: list[float] = []
    try:
        while step < options.steps:
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, options)
            batch = make_batch(rng, options, tokenizer, binding, step)
            loss = v_loss(unet, text_encoder, alphas, batch, device, generator, bf16)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            ema.update(modules, step)
            step += 1
            elapsed += time.perf_counter() - started
            losses.append(float(loss.detach()))
            if step % 50 == 0 or step == options.steps:
                entry = {"step": step, "loss": float(np.mean(losses)), "elapsed": elapsed,
                         "subjects": binding is not None}  # fmt: skip
                log.append(entry)
                losses.clear()
                if progress is not None:
                    progress(step, options.steps, entry)
            if step % options.checkpoint_every == 0:
                save()
                if binding is None and look_for_binding:  # it may have been trained meanwhile
                    binding = load_binding_for_training()
            if options.eval_every and step % options.eval_every == 0:
                log.append({"step": step, **quick_eval(out, ema, config, tokenizer, device)})
                if progress is not None:
                    progress(step, options.steps, log[-1])
    finally:
        save()
    return log[-1] if log else {}


# -- evaluation and export ----------------------------------------------------------------------------------
@torch.no_grad()
def sample_layouts(
    unet: Any, text_encoder: Any, tokenizer: Any, scenes: list[Scene], config: MiniworldConfig,
    device: torch.device, steps: int = 20, seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """Generate each scene's caption + blob layout (guidance 1) -> (n, 64, 64, 3) uint8."""
    from anypix.models.miniworld.model import build_scheduler

    scheduler = build_scheduler()
    scheduler.set_timesteps(steps)
    uncond, side = torch.zeros(len(scenes), dtype=torch.bool), config.image_size // 2
    text = text_and_layout(
        [s.caption() for s in scenes], [[o.blob for o in s.objects] for s in scenes], uncond,
        config, tokenizer,
    )  # fmt: skip
    batch = Batch(torch.zeros(len(scenes), 12, side, side), *text, None, uncond)
    hidden, layout = conditioning_tokens(text_encoder, unet, batch, device)
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(batch.latents.shape, generator=generator).to(device)
    grounding = get_blob_layers(unet)
    assert grounding is not None
    with grounding.conditioned(layout):
        for t in scheduler.timesteps:
            output = unet(latents, t.to(device), encoder_hidden_states=hidden).sample
            latents = scheduler.step(output, t, latents).prev_sample
    pixels = F.pixel_shuffle(latents.clamp(-1, 1), 2)
    return ((pixels + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def layout_scores(images: np.ndarray, scenes: list[Scene]) -> dict[str, float]:
    """Colour accuracy and mean IoU of each requested object (segmented by its colour), and the
    share drawn in the shape asked for (:func:`classify_shape`)."""
    hits, ious, shapes = [], [], []
    for image, scene in zip(images, scenes, strict=True):
        for obj in scene.objects:
            blob_mask = obj.blob.mask(image.shape[1], image.shape[0])
            found = colour_mask(image, obj.colour)
            inter, union = (found & blob_mask).sum(), (found | blob_mask).sum()
            ious.append(inter / max(union, 1))
            hits.append(found[blob_mask].mean() > 0.3 if blob_mask.any() else False)
            shapes.append(classify_shape(image, obj) == obj.shape)
    return {
        "colour_acc": float(np.mean(hits)),
        "miou": float(np.mean(ious)),
        "shape_acc": float(np.mean(shapes)),
    }


def eval_scenes(n: int = 16, base: int = 100_000) -> list[Scene]:
    return [random_scene(base + i, min_objects=1, max_objects=MAX_BLOBS) for i in range(n)]


def _ema_models(ema: EMA, config: MiniworldConfig, tokenizer: Any, device: torch.device) -> Any:
    unet, text_encoder = build_unet(config), build_text_encoder(config, tokenizer)
    unet.load_state_dict(ema.state_of("unet"))
    text_encoder.load_state_dict(ema.state_of("text_encoder"))
    return unet.to(device).eval(), text_encoder.to(device).eval()


def quick_eval(
    out: Path, ema: EMA, config: MiniworldConfig, tokenizer: Any, device: torch.device
) -> dict[str, float]:
    unet, text_encoder = _ema_models(ema, config, tokenizer, device)
    scenes = eval_scenes()
    images = sample_layouts(unet, text_encoder, tokenizer, scenes, config, device)
    from PIL import Image

    grid = np.concatenate([np.concatenate(list(images[r * 4 : r * 4 + 4]), 1) for r in range(4)])
    Image.fromarray(grid).save(out / "samples.png")
    return layout_scores(images, scenes)


def export(out: Path, weights: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the EMA weights of the run in ``out`` to ``weights`` as fp16 safetensors."""
    from safetensors.torch import save_file

    state = torch.load(out / "checkpoint.pt", weights_only=False)
    config = MiniworldConfig.from_dict(state["config"])
    ema = EMA({}, 0.0)
    ema.shadow = state["ema"]
    weights.mkdir(parents=True, exist_ok=True)
    write_word_tokenizer(weights / "tokenizer")
    for name in ("unet", "text_encoder"):
        tensors = {
            k: (v.half() if v.dtype.is_floating_point else v).contiguous()
            for k, v in ema.state_of(name).items()
        }
        save_file(tensors, str(weights / f"{name}.safetensors"))
    info = {
        "config": config.to_dict(),
        "steps": state["step"],
        "train_seconds": round(state["elapsed"], 1),
        "binding": state.get("binding"),
        "log": state["log"][-12:],
        **(extra or {}),
    }
    (weights / "model.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/miniworld"))
    parser.add_argument("--steps", type=int, default=TrainOptions.steps)
    parser.add_argument("--batch", type=int, default=TrainOptions.batch)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-every", type=int, default=TrainOptions.eval_every)
    parser.add_argument("--subject-steps", type=float, default=TrainOptions.subject_steps)
    parser.add_argument("--late-subject-steps", type=float, default=TrainOptions.late_subject_steps)
    parser.add_argument("--seed", type=int, default=TrainOptions.seed)
    parser.add_argument("--lr", type=float, default=TrainOptions.lr)
    parser.add_argument(
        "--empty-regions",
        type=float,
        default=TrainOptions.empty_regions,
        help="share of scenes with an object taken out and its blob kept empty",
    )
    parser.add_argument("--init", type=Path, default=None, help="exported weights to start from")
    parser.add_argument(
        "--paint-shapes",
        action="store_true",
        help="condition each blob on the silhouette of the shape its words name, not its ellipse",
    )
    parser.add_argument("--export", type=Path, default=None, help="write fp16 weights here after")
    args = parser.parse_args(argv)
    options = TrainOptions(steps=args.steps, batch=args.batch, threads=args.threads,
                           device=args.device, eval_every=args.eval_every,
                           subject_steps=args.subject_steps,
                           late_subject_steps=args.late_subject_steps, seed=args.seed,
                           lr=args.lr, empty_regions=args.empty_regions, init=args.init,
                           config=MiniworldConfig(paint_shapes=args.paint_shapes))  # fmt: skip

    def report(step: int, total: int, entry: dict[str, float]) -> None:
        print(json.dumps({"of": total, **entry}), flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # the training loop saves a checkpoint on the way out

    signal.signal(signal.SIGTERM, stop)

    train(args.out, options, progress=report)
    if args.export is not None:
        print(f"weights: {export(args.out, args.export)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
