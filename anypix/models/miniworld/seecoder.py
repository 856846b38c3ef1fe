"""A SeeCoder for the miniworld UNet (Prompt-Free Diffusion at miniature scale).

Prompt-Free Diffusion's SeeCoder turns an image into context tokens that a frozen UNet's
cross-attention reads where a prompt's tokens would be. This one reads an image out in the frozen
model's *own word space*: its queries become a sentence of the miniworld's words, which the
frozen text encoder turns into the context tokens the UNet knows best.

    image (B, 3, 64, 64) in [0, 1]
      -> conv stem (strides 2, 2, 2): an 8x8 grid of features + learned positions
      -> query transformer: 4 global + 32 word queries; word queries cross-attend to the grid,
         then all queries self-attend and pass an FFN (as SeeCoder's query transformer)
      -> one word per word query (or the end): "a small red ellipse, a large blue ring on
         warm stripes", objects from left to right
      -> the frozen text encoder -> context tokens for the frozen UNet

The words split where the model's captions do: the objects, then ``on`` and the background's
style, so an image can stand for a whole prompt (a variation), for its content alone (the
person's words say the style) or for its style alone (the words say what to draw).

Why words: the first version emitted free context tokens (4 global + 16 local, width 64) trained
through the frozen UNet's v-prediction loss; on this machine's CPU share it managed 160 steps in
27 minutes and drew mush (source colours recalled 57% against 14% for null tokens, no shape, no
style, on 4 scenes). Reading the image out in words trains without the UNet in the loop
(cross-entropy on the scene's canonical caption), hundreds of times cheaper per step.

    python -m anypix.models.miniworld.seecoder --run runs/seecoder --minutes 20 --threads 1
    anypix train miniworld-seecoder --run runs/seecoder

A checkpoint is written every ``checkpoint_every`` steps and when the time budget or Ctrl-C stops
the run; running again resumes. The weights are exported as fp16 safetensors
(``seecoder.safetensors`` + ``seecoder.json``) into the weights directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from anypix.errors import ModelUnavailableError
from anypix.models.miniworld.data import COLOURS, PALETTES, SHAPES, SIZES, TEXTURES, Scene
from anypix.models.miniworld.seecoder_options import SeeCoderOptions

WEIGHTS_FILE = "seecoder.safetensors"
CONFIG_FILE = "seecoder.json"
TRAIN_SEED_BASE = 10_000_000  # the fidelity benchmark holds out seeds below it
END = "<end>"
# Every word of the model's scene captions; index 0 ends the sentence.
WORDS: tuple[str, ...] = tuple(dict.fromkeys(
    [END, ",", "and", "on", "a", "an", "empty", "scene", "flat",
     *SIZES, *COLOURS, *SHAPES, *TEXTURES, *PALETTES]))  # fmt: skip
Role = Literal["variation", "style", "content"]


@dataclass(frozen=True)
class SeeCoderConfig:
    image_size: int = 64  # images are resized to this square before encoding
    stem_channels: tuple[int, ...] = (32, 64, 96)  # one stride-2 conv stage each: 64 -> 8 cells
    width: int = 128  # query transformer width
    heads: int = 4
    layers: int = 2  # (cross-attention, self-attention, FFN) blocks (three: 2.06 MB in fp16)
    global_queries: int = 4  # gather the whole image (style, how many objects)
    word_queries: int = 32  # one word each: five objects and a style fit in 28
    vocabulary: int = len(WORDS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeeCoderConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "stem_channels" in known:
            known["stem_channels"] = tuple(known["stem_channels"])
        return cls(**known)


class QueryBlock(nn.Module):
    """Word queries read the image grid; then every query reads every other one."""

    def __init__(self, width: int, heads: int, global_queries: int) -> None:
        super().__init__()
        self.global_queries = global_queries
        self.cross_norm, self.self_norm, self.ffn_norm = (nn.LayerNorm(width) for _ in range(3))
        self.cross = nn.MultiheadAttention(width, heads, batch_first=True)
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, queries: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        g = self.global_queries
        local = self.cross_norm(queries[:, g:])
        read, _ = self.cross(local, grid, grid, need_weights=False)
        queries = torch.cat([queries[:, :g], queries[:, g:] + read], dim=1)
        normed = self.self_norm(queries)
        queries = queries + self.self_attn(normed, normed, normed, need_weights=False)[0]
        return queries + self.ffn(self.ffn_norm(queries))


class MiniSeeCoder(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> word logits (B, word_queries, len(WORDS));
    :meth:`describe` reads them out as the model's captions."""

    def __init__(self, config: SeeCoderConfig = SeeCoderConfig()) -> None:
        super().__init__()
        self.config = c = config
        stages: list[nn.Module] = []
        channels = 3
        for out in c.stem_channels:
            stages += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.GroupNorm(8, out),
                       nn.SiLU(), nn.Conv2d(out, out, 3, padding=1), nn.SiLU()]  # fmt: skip
            channels = out
        self.stem = nn.Sequential(*stages)
        cells = (c.image_size // 2 ** len(c.stem_channels)) ** 2
        self.grid_proj = nn.Linear(channels, c.width)
        self.grid_positions = nn.Parameter(torch.randn(cells, c.width) * 0.02)
        self.queries = nn.Parameter(torch.randn(c.global_queries + c.word_queries, c.width) * 0.02)
        self.blocks = nn.ModuleList(
            QueryBlock(c.width, c.heads, c.global_queries) for _ in range(c.layers)
        )
        self.out_norm = nn.LayerNorm(c.width)
        self.to_words = nn.Linear(c.width, c.vocabulary)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        side = self.config.image_size
        if tuple(images.shape[-2:]) != (side, side):
            images = F.interpolate(images, size=(side, side), mode="area")
        features = self.stem(images * 2 - 1).flatten(2).transpose(1, 2)  # (B, cells, C)
        grid = self.grid_proj(features) + self.grid_positions
        queries = self.queries.unsqueeze(0).expand(images.shape[0], -1, -1)
        for block in self.blocks:
            queries = block(queries, grid)
        return self.to_words(self.out_norm(queries[:, self.config.global_queries :]))

    @torch.no_grad()
    def describe(self, images: torch.Tensor, role: Role = "variation") -> list[str]:
        """The caption of each image, or its objects ("content") or its style ("style") alone."""
        return [part(words_to_text(w), role) for w in self(images).argmax(-1).tolist()]


def caption_words(scene: Scene) -> list[str]:
    """The scene's caption with its objects from left to right, as words of :data:`WORDS`."""
    ordered = Scene(scene.seed, scene.style, tuple(sorted(scene.objects, key=lambda o: o.blob.cx)))
    return ordered.caption().replace(",", " ,").split()


def words_to_text(ids: Sequence[int]) -> str:
    words = []
    for i in ids:
        if WORDS[i] == END:
            break
        words.append(WORDS[i])
    return " ".join(words).replace(" ,", ",")


def part(caption: str, role: Role) -> str:
    """The whole caption, its objects ("content") or its background ("style", as "on ...")."""
    objects, _, style = caption.rpartition(" on ")
    if role == "content":
        return objects
    if role == "style":
        return f"on {style}" if style else ""
    return caption


def sentence(prompt: str, said: str, role: Role) -> str:
    """The person's words and the image's in one caption, in the order the model's captions
    take: objects first, then "on" and the style."""
    prompt, said = prompt.strip(), said.strip()
    if not prompt or not said:
        return prompt or said
    return f"{prompt} {said}" if role == "style" else f"{said} {prompt}"


# -- loading ------------------------------------------------------------------------------------------
def load_seecoder(folder: Path, device: str | torch.device = "cpu") -> MiniSeeCoder:
    """The SeeCoder exported into ``folder`` (beside the UNet it was trained for)."""
    from safetensors.torch import load_file

    path = folder / WEIGHTS_FILE
    if not path.exists() or not (folder / CONFIG_FILE).exists():
        raise ModelUnavailableError(
            f"no miniworld SeeCoder in {folder}",
            "train one: anypix train miniworld-seecoder --out " + str(folder),
        )
    info = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    if tuple(info.get("words", ())) != WORDS:
        raise ModelUnavailableError(
            f"the SeeCoder in {folder} reads other words than this miniworld's",
            "retrain it: anypix train miniworld-seecoder --out " + str(folder),
        )
    model = MiniSeeCoder(SeeCoderConfig.from_dict(info["config"]))
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return model.to(device).eval().requires_grad_(False)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# -- training -----------------------------------------------------------------------------------------
def make_batch(
    rng: np.random.Generator, options: SeeCoderOptions, slots: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (B, 3, 64, 64) in [0, 1], word ids (B, slots)) of freshly drawn training scenes."""
    from anypix.models.miniworld.data import random_scene, render

    index = {word: i for i, word in enumerate(WORDS)}
    images, targets = [], torch.zeros(options.batch, slots, dtype=torch.long)  # 0: the end
    for row in range(options.batch):
        scene = random_scene(int(rng.integers(TRAIN_SEED_BASE, 2**31 - 1)))
        images.append(render(scene, 64)[0])
        ids = [index[word] for word in caption_words(scene)][:slots]
        targets[row, : len(ids)] = torch.tensor(ids)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    return pixels, targets


def caption_loss(seecoder: MiniSeeCoder, pixels: torch.Tensor, targets: torch.Tensor
                 ) -> tuple[torch.Tensor, float]:  # fmt: skip
    """Cross-entropy of every word query against its word, and the share of exact captions."""
    logits = seecoder(pixels)
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    exact = (logits.argmax(-1) == targets).all(dim=1).float().mean()
    return loss, float(exact)


def learning_rate(step: int, options: SeeCoderOptions) -> float:
    if step < options.warmup:
        return options.lr * (step + 1) / options.warmup
    progress = min(1.0, (step - options.warmup) / max(1, options.steps - options.warmup))
    return options.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * progress)))


Log = Callable[[str], None]


def train_seecoder(run: Path, weights: Path, options: SeeCoderOptions, log: Log = print) -> Path:
    """Train (or resume) the SeeCoder into ``run`` and export it into ``weights``; stops at
    ``options.steps`` or after ``options.minutes`` of this run. It reads images out in the
    miniworld's words, so it serves every UNet trained on those words (v1, v2...)."""
    if options.threads:
        torch.set_num_threads(options.threads)
    run.mkdir(parents=True, exist_ok=True)
    checkpoint = run / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=False) if checkpoint.exists() else None
    torch.manual_seed(options.seed)
    config = SeeCoderConfig.from_dict(state["config"]) if state else SeeCoderConfig()
    seecoder = MiniSeeCoder(config)
    optimizer = torch.optim.AdamW(seecoder.parameters(), lr=options.lr, weight_decay=0.01)
    rng = np.random.default_rng(options.seed)
    step, elapsed, history = 0, 0.0, []
    if state:
        seecoder.load_state_dict(state["seecoder"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed, history = state["step"], state["elapsed"], state["log"]
        rng.bit_generator.state = state["rng"]

    def save() -> None:
        payload = {"config": asdict(config), "seecoder": seecoder.state_dict(),
                   "optimizer": optimizer.state_dict(), "step": step, "elapsed": elapsed,
                   "log": history, "rng": rng.bit_generator.state}  # fmt: skip
        torch.save(payload, checkpoint.with_suffix(".tmp"))
        os.replace(checkpoint.with_suffix(".tmp"), checkpoint)

    started, losses, exact = time.perf_counter(), [], []
    seecoder.train()
    try:
        while step < options.steps:
            if options.minutes and time.perf_counter() - started > 60 * options.minutes:
                log(f"seecoder: time budget of {options.minutes:g} min reached at step {step}")
                break
            mark = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, options)
            pixels, targets = make_batch(rng, options, config.word_queries)
            loss, right = caption_loss(seecoder, pixels, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(seecoder.parameters(), 1.0)
            optimizer.step()
            step, elapsed = step + 1, elapsed + time.perf_counter() - mark
            losses.append(float(loss.detach()))
            exact.append(right)
            if step % 25 == 0 or step == options.steps:
                history.append({"step": step, "loss": float(np.mean(losses)),
                                "exact_captions": float(np.mean(exact)), "elapsed": elapsed})  # fmt: skip
                log(f"seecoder: step {step}/{options.steps} loss {history[-1]['loss']:.4f} "
                    f"exact {history[-1]['exact_captions']:.2f} ({elapsed / step:.2f} s/step)")  # fmt: skip
                losses.clear()
                exact.clear()
            if step % options.checkpoint_every == 0:
                save()
    finally:
        save()
    return export(run, weights)


def export(run: Path, weights: Path) -> Path:
    """Write the run's SeeCoder into ``weights`` as fp16 safetensors with its config."""
    from safetensors.torch import save_file

    state = torch.load(run / "checkpoint.pt", weights_only=False)
    weights.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.half().contiguous() for k, v in state["seecoder"].items()}
    save_file(tensors, str(weights / WEIGHTS_FILE))
    info = {"config": state["config"], "words": list(WORDS), "steps": state["step"],
            "train_seconds": round(state["elapsed"], 1), "log": state["log"][-8:]}  # fmt: skip
    (weights / CONFIG_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/seecoder"))
    parser.add_argument("--out", type=Path, default=None, help="weights folder (default: --run)")
    defaults = SeeCoderOptions()
    for name in ("steps", "minutes", "batch", "lr", "threads", "seed"):
        parser.add_argument(f"--{name}", type=type(getattr(defaults, name)),
                            default=getattr(defaults, name))  # fmt: skip
    args = parser.parse_args(argv)
    options = SeeCoderOptions(steps=args.steps, minutes=args.minutes, batch=args.batch,
                              lr=args.lr, threads=args.threads, seed=args.seed)  # fmt: skip
    train_seecoder(args.run, args.out or args.run, options, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
