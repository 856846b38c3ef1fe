"""Training the refinement prior: data, loop, checkpoints, resume and held-out evaluation.

Without a pairs file, pairs come from :class:`SyntheticWorld`, a stand-in for a
binding space with the properties the prior is for:

* clean image embeddings lie near a low-rank manifold (``rank`` latent factors) plus detail;
* latent factor 0 is *quality*; the aesthetic score is ``clip(5 + 2 * z0, 0, 10)``;
* Gaussian pairs: an image embedding plus isotropic noise -> the clean one;
* cross-modal pairs: text and audio embeddings are the image's content through a fixed
  modality-specific rotation and offset (the "modality gap"), plus noise, and they do not carry
  quality (captions rarely say how good a photo is) -- only the score does.

A file of real pairs (``.npz`` with ``source``, ``modality``, ``score``, ``target``) replaces it.
Batches depend only on (seed, step), so a resumed run sees exactly the data it would have seen.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from anypix.models.device import pick_device
from anypix.models.prior import PRIOR_MODALITIES, PriorConfig, RefinementPrior

Batch = tuple[
    torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor
]  # source, modality, score, target


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


class SyntheticWorld:
    def __init__(self, dim: int, rank: int = 16, seed: int = 0, detail: float = 0.15) -> None:
        g = torch.Generator().manual_seed(seed)
        self.dim, self.rank, self.detail = dim, rank, detail
        self.basis = torch.randn(dim, rank, generator=g) / math.sqrt(dim)
        self.rotation, self.gap, self.noise = {}, {}, {"text": 0.1, "audio": 0.3}
        for name in ("text", "audio"):
            mix = torch.eye(dim) + 0.8 * torch.randn(dim, dim, generator=g) / math.sqrt(dim)
            self.rotation[name] = torch.linalg.qr(mix)[0]
            self.gap[name] = 0.6 * _unit(torch.randn(dim, generator=g))

    def quality_direction(self) -> torch.Tensor:
        return _unit(self.basis[:, 0])

    def sample(self, batch: int, generator: torch.Generator) -> Batch:
        z = torch.randn(batch, self.rank, generator=generator)
        score = (5 + 2 * z[:, 0]).clamp(0, 10)
        detail = self.detail * _unit(torch.randn(batch, self.dim, generator=generator))
        target = _unit(z @ self.basis.T * math.sqrt(self.dim / self.rank) + detail)
        modality = torch.randint(0, 3, (batch,), generator=generator)
        noise = _unit(torch.randn(batch, self.dim, generator=generator))
        strength = 0.3 + 0.7 * torch.rand(batch, 1, generator=generator)
        source = _unit(target + strength * noise)  # Gaussian pairs (modality "image")
        content = z.clone()
        content[:, 0] = 0  # other modalities do not know the quality factor
        content = _unit(content @ self.basis.T)
        for index, name in enumerate(PRIOR_MODALITIES[1:], start=1):
            rows = modality == index
            moved = content[rows] @ self.rotation[name].T + self.gap[name]
            source[rows] = _unit(moved + self.noise[name] * noise[rows])
        return source, modality, score, target


class PairFile:
    """Pairs from an ``.npz`` file (e.g. written by a model family's data pipeline). The last
    ``held_out`` fraction of rows is the evaluation split and is never trained on."""

    def __init__(self, path: Path, split: str = "train", held_out: float = 0.1) -> None:
        import numpy as np

        data = np.load(path)
        cut = int(len(data["source"]) * (1 - held_out))
        rows = slice(0, cut) if split == "train" else slice(cut, None)
        self.source = torch.from_numpy(data["source"][rows]).float()
        self.modality = torch.from_numpy(data["modality"][rows]).long()
        self.score = torch.from_numpy(data["score"][rows]).float()
        self.target = torch.from_numpy(data["target"][rows]).float()
        self.dim = self.source.shape[1]

    def sample(self, batch: int, generator: torch.Generator) -> Batch:
        rows = torch.randint(0, len(self.source), (batch,), generator=generator)
        return self.source[rows], self.modality[rows], self.score[rows], self.target[rows]

    def all(self) -> Batch:
        return self.source, self.modality, self.score, self.target


@dataclass(frozen=True)
class TrainPriorConfig:
    steps: int = 3000
    batch: int = 256
    lr: float = 5e-4
    warmup: int = 100
    weight_decay: float = 0.01
    checkpoint_every: int = 500
    seed: int = 0
    eval_size: int = 2048
    data: str | None = None  # an .npz of pairs; None: SyntheticWorld(dim, seed=seed)
    device: str = "auto"


@dataclass
class PriorReport:
    step: int
    train_loss: float
    prior_l2: float
    identity_l2: float
    per_modality: dict[str, tuple[float, float]] = field(default_factory=dict)
    checkpoint: str = ""
    seconds: float = 0.0


def _lr(step: int, config: TrainPriorConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _batch(
    data: SyntheticWorld | PairFile, config: TrainPriorConfig, step: int, salt: int = 0
) -> Batch:
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step * 7 + salt)
    return data.sample(config.batch, generator)


def evaluate(model: RefinementPrior, source: Batch, device: str = "cpu") -> PriorReport:
    """Mean L2 to the clean embedding: the prior's output vs the source itself (identity)."""
    src, modality, score, target = (t.to(device) for t in source)
    model.eval()
    with torch.no_grad():
        predicted = _unit(model(src, modality, score))
    prior_l2 = (predicted - target).norm(dim=-1)
    identity_l2 = (_unit(src) - target).norm(dim=-1)
    per = {
        name: (float(prior_l2[modality == i].mean()), float(identity_l2[modality == i].mean()))
        for i, name in enumerate(PRIOR_MODALITIES)
        if bool((modality == i).any())
    }
    return PriorReport(0, math.nan, float(prior_l2.mean()), float(identity_l2.mean()), per)


def train_prior(
    out_dir: Path,
    config: TrainPriorConfig = TrainPriorConfig(),
    prior_config: PriorConfig = PriorConfig(),
    resume: bool = True,
    log: Callable[[str], None] | None = None,
) -> PriorReport:
    """Train (or resume training) and write ``prior.pt`` and ``report.json`` into ``out_dir``."""
    started = time.perf_counter()
    device = str(pick_device(config.device))
    data = (
        PairFile(Path(config.data))
        if config.data
        else SyntheticWorld(prior_config.dim, seed=config.seed)
    )
    if data.dim != prior_config.dim:
        raise ValueError(
            f"pairs have dim {data.dim} but the prior is configured for {prior_config.dim}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "prior.pt"
    torch.manual_seed(config.seed)
    model = RefinementPrior(prior_config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    step, losses = 0, []
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state["prior_config"] != asdict(prior_config):
            raise ValueError(f"{checkpoint} was trained with another PriorConfig; use a new --out")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, losses = state["step"], list(state["losses"])
        if log:
            log(f"resumed from step {step}")
    model.train()
    while step < config.steps:
        src, modality, score, target = (t.to(device) for t in _batch(data, config, step))
        generator = torch.Generator().manual_seed(config.seed + 31 * step)
        drop = (torch.rand(len(src), generator=generator) < prior_config.p_uncond).to(device)
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, config)
        loss = (model(src, modality, score, drop) - target).pow(2).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(checkpoint, model, optimizer, step, losses, prior_config, config)
            if log:
                log(f"step {step}: loss {sum(losses[-50:]) / len(losses[-50:]):.4f}")
    if isinstance(data, PairFile):
        held_out = PairFile(Path(config.data), split="test").all()  # type: ignore[arg-type]
    else:  # fresh latents from a generator training never uses
        held_out = data.sample(
            config.eval_size, torch.Generator().manual_seed(10_000_019 + config.seed)
        )
    report = evaluate(model, held_out, device)
    report.step, report.checkpoint = step, str(checkpoint)
    report.train_loss = sum(losses[-50:]) / max(1, len(losses[-50:]))
    report.seconds = time.perf_counter() - started
    (out_dir / "report.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report


def _save(
    path: Path,
    model: RefinementPrior,
    optimizer: torch.optim.Optimizer,
    step: int,
    losses: list[float],
    prior_config: PriorConfig,
    config: TrainPriorConfig,
) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "losses": losses,
        "prior_config": asdict(prior_config),
        "train_config": asdict(config),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a crash mid-save leaves the previous checkpoint intact
