"""The refinement step: prior + InstructAny2Pix's conditioning mix.

    conditioning = unit(mix_base * unit(base) + mix_gen * unit(gen) + mix_prior * unit(prior(gen)))
                   * (mix_norm or 1)

``gen`` is the planner's ``[gen]`` description (or an audio clip), embedded by the session's
encoder; ``prior(gen)`` is the refinement prior's image embedding for it at an aesthetic ``score``,
optionally with classifier-free ``guidance`` on the score; ``base`` is the ``[base]`` asset's
embedding. Weights and norm are the plan knobs ``mix_base``, ``mix_gen``, ``mix_prior``,
``mix_norm``; one the plan leaves unset takes the model's measured default (its capabilities'
``prior_mix``), else the reference's 0.0 / 0.4 / 1.0, unit norm.

Two ways in: the ``refine`` tool returns the embedding (to inspect it), and the render's
:class:`~anypix.tools.techniques.RefinementPrior` technique conditions on it. In a render the
``[gen]`` is what InstructAny2Pix's is: the plan's ``[sub]`` references when it has them (an
image, or a sound, embedded in the model's subject space -- "add [tone]" means what the tone
shows), else its words. A plan with references goes through the prior by default on a model that
ships a ``prior_mix``; a plan of words only when it sets a ``mix_*`` knob. ``mix_prior=0`` (and
``mix_base=0``) is the render without the prior.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from anypix.errors import AnypixError, ModelUnavailableError

if TYPE_CHECKING:
    import torch

    from anypix.models.encoders import Encoder
    from anypix.models.prior import RefinementPrior
    from anypix.plan import EditPlan, Knobs

REFERENCE_MIX = {"mix_base": 0.0, "mix_gen": 0.4, "mix_prior": 1.0, "mix_norm": 0.0}
PRIOR_SCORE = 6.5  # the aesthetic score the prior aims for (the reference's)


def mix_weights(knobs: Knobs, defaults: Mapping[str, float] | None = None) -> dict[str, float]:
    """The plan's mix knobs; where it leaves one unset, ``defaults`` (a model's measured mix),
    else the reference's."""
    fallback = {**REFERENCE_MIX, **(defaults or {})}
    chosen = {name: getattr(knobs, name) for name in REFERENCE_MIX}
    return {name: fallback[name] if v is None else v for name, v in chosen.items()}


def sets_mix(plan: EditPlan) -> bool:
    """Whether the plan sets any mix knob itself."""
    return any(getattr(plan.knobs, name) is not None for name in REFERENCE_MIX)


def wants_prior(plan: EditPlan) -> bool:
    """Whether the render lists the refinement prior: the plan sets a mix knob, or it has
    [sub] references (whose model may refine them by default; the technique decides)."""
    return sets_mix(plan) or bool(plan.subs)


def uses_prior(weights: Mapping[str, float]) -> bool:
    """Whether a mix differs from the bare [gen]: without prior and [base] terms it is [gen]
    renormalised, which is what the render conditions on without the prior."""
    return weights["mix_prior"] > 0 or weights["mix_base"] > 0


def refined_vectors(
    sources: Sequence[tuple[torch.Tensor, str]],
    prior: RefinementPrior | None,
    base: torch.Tensor | None,
    weights: Mapping[str, float],
    score: float = PRIOR_SCORE,
) -> torch.Tensor:
    """Each ``(vector, modality)`` source (a [gen]) through the prior and mixed with ``base``:
    (n, dim) conditioning vectors in the sources' space."""
    import torch

    mixed = []
    for vector, modality in sources:
        made = prior.generate(vector, modality, score=score).cpu() if prior is not None else None
        mixed.append(mix_conditioning(vector.cpu(), made, base, **weights))
    return torch.stack(mixed)


def mix_conditioning(
    gen: torch.Tensor | None,
    prior: torch.Tensor | None = None,
    base: torch.Tensor | None = None,
    *,
    mix_base: float = 0.0,
    mix_gen: float = 0.4,
    mix_prior: float = 1.0,
    mix_norm: float = 0.0,
) -> torch.Tensor:
    """Weighted sum of the unit-normalised terms, renormalised to ``mix_norm`` (0: unit).
    Missing terms (None) drop out; the others keep their weights."""
    import torch

    terms = [
        (w, v)
        for w, v in ((mix_base, base), (mix_gen, gen), (mix_prior, prior))
        if v is not None and w > 0
    ]
    if not terms:
        raise AnypixError(
            "nothing to condition on: every mix weight with an embedding is 0",
            "raise mix_gen or mix_prior (plan knobs)",
        )
    mixed = sum(w * torch.nn.functional.normalize(v.float(), dim=-1) for w, v in terms)
    norm = mixed.norm(dim=-1, keepdim=True)  # type: ignore[union-attr]
    if bool((norm < 1e-6).any()):
        raise AnypixError("the mixed embedding cancels out to zero", "change the mix weights")
    return mixed / norm * (mix_norm or 1.0)


def default_prior_path(encoder_id: str) -> Path:
    from anypix.config import load_settings

    return load_settings().data_dir / "prior" / encoder_id / "prior.pt"


class RefineResult(BaseModel):
    encoder: str
    prior_used: bool
    norm: float
    cosine_to_gen: float
    cosine_to_base: float | None = None
    embedding: list[float]


def refine(
    gen: str,
    base: str | None = None,
    modality: Literal["text", "audio"] = "text",
    score: float = 6.5,
    guidance: float = 1.0,
    mix_base: float | None = None,
    mix_gen: float | None = None,
    mix_prior: float | None = None,
    mix_norm: float | None = None,
    encoder: str = "minilm",
    _encoder: Any = None,
    _prior: Any = None,
    _index: Any = None,
) -> RefineResult:
    """Turn the [gen] description (or an audio clip) into the embedding the renderer conditions
    on: the refinement prior's image embedding mixed with [gen] and [base].

    Args:
        gen: the target description, or for audio a file path or a session asset name.
        base: the session asset being edited ([base]), if any.
        modality: what gen is: text or audio.
        score: aesthetic/quality score (0-10) the prior aims for; the reference uses 6.5.
        guidance: classifier-free guidance on the score; 1 turns it off.
        mix_base: weight of the [base] embedding (default: the reference's, 0).
        mix_gen: weight of the [gen] embedding.
        mix_prior: weight of the prior's output.
        mix_norm: norm of the result; 0 means unit norm.
        encoder: encoder preset when no session encoder is given.

    The executor supplies ``_encoder`` (an Encoder), ``_prior`` (a RefinementPrior) and
    ``_index`` (the session's SessionIndex).
    """
    import torch

    from anypix.plan import Knobs

    weights = mix_weights(
        Knobs(mix_base=mix_base, mix_gen=mix_gen, mix_prior=mix_prior, mix_norm=mix_norm)
    )
    model = _encoder or (_index.encoder if _index is not None else None)
    if model is None:
        from anypix.models.encoders import load_encoder

        model = load_encoder(encoder)
    # 1. Embed [gen] (an indexed audio asset reuses its cached embedding).
    if _index is not None and gen in _index.assets:
        gen_vector = _index.vector(gen)
    else:
        item = gen if modality == "text" else Path(gen)
        gen_vector = model.embed([item], modality)[0]
    # 2. The [base] embedding, from the session index.
    base_vector = None
    if base is not None:
        if _index is None:
            raise AnypixError(
                f"[{base}] needs a session to look it up", "run refine inside a session"
            )
        base_vector = _index.vector(base)
    # 3. The prior's image embedding for [gen].
    prior = _prior or load_default_prior(model)
    prior_vector = None
    if prior is not None:
        if prior.config.dim != gen_vector.shape[-1]:
            raise ModelUnavailableError(
                f"the prior expects {prior.config.dim}-d embeddings, {model.encoder_id} gives "
                f"{gen_vector.shape[-1]}",
                "train a prior for this encoder: anypix train prior --data PAIRS.npz",
            )
        prior_vector = prior.generate(gen_vector, modality, score=score, guidance=guidance).cpu()
    # 4. Mix and renormalise.
    mixed = mix_conditioning(gen_vector, prior_vector, base_vector, **weights)
    unit = torch.nn.functional.normalize(mixed, dim=-1)
    return RefineResult(
        encoder=model.encoder_id,
        prior_used=prior_vector is not None,
        norm=round(float(mixed.norm()), 6),
        cosine_to_gen=round(float(unit @ gen_vector), 6),
        cosine_to_base=None if base_vector is None else round(float(unit @ base_vector), 6),
        embedding=[round(float(x), 6) for x in mixed],
    )


def load_default_prior(model: Encoder) -> RefinementPrior | None:
    """The prior trained for this encoder (``anypix train prior``), else the one its model
    family ships with it, if any."""
    path = default_prior_path(model.encoder_id)
    if not path.exists():
        from anypix.models.registry import shipped_prior

        return shipped_prior(model.encoder_id)
    from anypix.models.prior import load_prior

    return load_prior(str(path))
