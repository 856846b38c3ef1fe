"""The refinement prior: (text or audio embedding, quality score) -> image embedding.

InstructAny2Pix refines the embedding its LLM writes for ``[gen]`` with a small decoder-only
transformer conditioned on an aesthetic score, so the diffusion model receives something that
looks like an *image* embedding of a *good* image. This is anypix's version:

    tokens = [modality of the source] [score] [source embedding] [query]
    causal transformer -> the query's output -> skip[modality] * source + projection

Training is an L2 loss against the clean image embedding, on (corrupted -> clean) pairs: Gaussian
noise on image embeddings, and cross-modal pairs (text/audio -> image). The score is replaced by a
learned null token with probability ``p_uncond`` so classifier-free guidance on the score works
at inference: ``uncond + guidance * (cond - uncond)``, where the unconditional branch sees the
same source with a low "negative" score (6.5 vs 2.0 in the reference code) or the null token.
Unlike the reference, the unconditional branch keeps the source: guidance then moves along what
the score adds, not away from the source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

PRIOR_MODALITIES = ("image", "text", "audio")  # index = modality id


@dataclass(frozen=True)
class PriorConfig:
    dim: int = 384  # embedding size (MiniLM 384, ImageBind 1024, a binding encoder's own)
    width: int = 256  # transformer width
    layers: int = 4
    heads: int = 4
    score_features: int = 64  # sinusoidal features of the score
    p_uncond: float = 0.1  # how often training hides the score (for guidance)


def score_features(score: torch.Tensor, size: int) -> torch.Tensor:
    """Sinusoidal features of a score in [0, 10] (like a diffusion timestep embedding)."""
    half = size // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=score.device) / half)
    angles = score.float().unsqueeze(-1) * 10.0 * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class RefinementPrior(nn.Module):
    def __init__(self, config: PriorConfig = PriorConfig()) -> None:
        super().__init__()
        self.config = c = config
        self.modality_embedding = nn.Embedding(len(PRIOR_MODALITIES), c.width)
        self.score_proj = nn.Sequential(
            nn.Linear(c.score_features, c.width), nn.SiLU(), nn.Linear(c.width, c.width)
        )
        self.null_score = nn.Parameter(torch.zeros(c.width))
        self.source_proj = nn.Linear(c.dim, c.width)
        self.query = nn.Parameter(torch.randn(c.width) * 0.02)
        self.positions = nn.Parameter(torch.randn(4, c.width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            c.width,
            c.heads,
            4 * c.width,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.width)
        self.out_proj = nn.Linear(c.width, c.dim)
        # A learned skip weight per source modality: the prior starts as the identity, and can
        # drop the source where it is mostly noise (the projection alone is a narrow path).
        # Stored divided by 10: Adam moves a parameter ~lr per step, and the skip has to travel
        # from 1 to about 0, so this lets it get there in tens of steps instead of thousands.
        self.skip = nn.Parameter(torch.full((len(PRIOR_MODALITIES),), 0.1))
        nn.init.zeros_(self.out_proj.weight)  # starts as the identity map on the source
        nn.init.zeros_(self.out_proj.bias)
        self.register_buffer(
            "causal_mask", nn.Transformer.generate_square_subsequent_mask(4), persistent=False
        )

    def forward(
        self,
        source: torch.Tensor,
        modality: torch.Tensor,
        score: torch.Tensor,
        drop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predicted image embeddings (B, dim), not normalised. ``drop`` (B,) bool replaces the
        score by the learned null token."""
        source = nn.functional.normalize(source.float(), dim=-1)
        score_token = self.score_proj(score_features(score, self.config.score_features))
        if drop is not None:
            keep = (~drop).float().unsqueeze(-1)
            score_token = score_token * keep + self.null_score * (1 - keep)
        tokens = torch.stack(
            [
                self.modality_embedding(modality),
                score_token,
                self.source_proj(source),
                self.query.expand(source.shape[0], -1),
            ],
            dim=1,
        )
        hidden = self.transformer(tokens + self.positions, mask=self.causal_mask, is_causal=True)
        skip = 10.0 * self.skip[modality].unsqueeze(-1)
        return skip * source + self.out_proj(self.norm(hidden[:, -1]))

    @torch.no_grad()
    def generate(
        self,
        source: torch.Tensor,
        modality: str = "text",
        score: float = 6.5,
        guidance: float = 1.0,
        negative_score: float | None = 2.0,
    ) -> torch.Tensor:
        """Unit image embeddings for (B, dim) or (dim,) sources. ``guidance`` > 1 pushes away
        from the unconditional prediction; ``negative_score`` None uses the null score."""
        squeeze = source.ndim == 1
        source = source.reshape(-1, self.config.dim).to(self.out_proj.weight.device)
        batch = source.shape[0]
        mod = torch.full((batch,), PRIOR_MODALITIES.index(modality), device=source.device)
        scores = torch.full((batch,), float(score), device=source.device)
        cond = self(source, mod, scores)
        if guidance != 1.0:
            if negative_score is None:
                null = torch.ones(batch, dtype=torch.bool, device=source.device)
                uncond = self(source, mod, scores, drop=null)
            else:
                uncond = self(source, mod, torch.full_like(scores, negative_score))
            cond = uncond + guidance * (cond - uncond)
        out = nn.functional.normalize(cond, dim=-1)
        return out[0] if squeeze else out


def load_prior(path: str, device: str = "cpu") -> RefinementPrior:
    """A trained prior from a checkpoint written by :func:`anypix.models.prior_training.train_prior`."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = RefinementPrior(PriorConfig(**state["prior_config"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval()
