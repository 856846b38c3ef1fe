"""The techniques a render composes, each one object with the same small interface.

    class Technique:
        prepare(job)      # before the text is encoded: the plan's words, start latents,
                          # leading rows (a style reference rides along as row 0), masks
        condition(job)    # after: what it adds to the conditioning
        hooks(job)        # a context manager installing its processors or hooks for the loop
        before_step(i, n, latents) -> latents   # may replace latents before each step
        finish(latents) -> latents              # after the last step
        finish_images(images) -> images         # after decoding
        provenance()      # what it did, for the render's record

:func:`anypix.tools.choose.techniques_for` lists the ones a plan asks for, in the order the
render runs them; the render (:func:`anypix.tools.render.render`) calls each method in its
numbered steps. A new technique is one class here and one line in ``choose.techniques_for``.

The batch the UNet sees is ``[leading rows..., target]`` (twice, ``[uncond..., cond...]``, with
guidance); ``job.rows`` counts the leading rows, so every technique acts on the rows it owns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from anypix.errors import NotAvailableError
from anypix.models.attention import StyleAlignedOptions
from anypix.models.diffusion import Components, Conditioning
from anypix.plan import OPS, EditPlan
from anypix.tools.refine import (
    PRIOR_SCORE,
    load_default_prior,
    mix_weights,
    refined_vectors,
    sets_mix,
    uses_prior,
)

if TYPE_CHECKING:
    import torch

    from anypix.tools.invert import InversionTrajectory

STYLE_OPTIONS = StyleAlignedOptions()
INVERSION_GUIDANCE = 1.0
START_BLEND = "sqrt(alpha) * ddim_inverted(base) + sqrt(1 - alpha) * noise(seed)"
FRESH_INSIDE = tuple(name for name, spec in OPS.items() if spec.repaints)  # regions lose the base
KEEP_OUTSIDE = "outside the blobs/boxes, latents follow the [base]'s inversion at every step"


@dataclass
class RenderJob:
    """What the techniques of one render share: the plan, its images, the sampling values, and
    what the render builds step by step (start latents, leading rows, conditioning)."""

    plan: EditPlan
    images: dict[str, Any]  # asset name -> PIL image, or (waveform, rate) for a sound
    components: Components
    size: tuple[int, int]  # (width, height)
    steps: int
    guidance: float
    noise: Callable[[], torch.Tensor]  # the seed's starting noise (drawn again on each call)
    invert: Callable[[Any, str], InversionTrajectory]  # (image, prompt) -> DDIM trajectory
    start: torch.Tensor | None = None  # the target row's start latent
    base: InversionTrajectory | None = None  # the [base]'s inversion, when the plan edits one
    leading: list[tuple[torch.Tensor, str]] = field(default_factory=list)  # (latent, prompt)
    conditioning: Conditioning | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def do_cfg(self) -> bool:
        return self.guidance > 1.0

    @property
    def prompt(self) -> str:
        """The text the model is conditioned on (the plan's words as techniques left them)."""
        return prompt_of(self.plan)

    @property
    def rows(self) -> int:
        """Leading rows ahead of the target row (within one guidance half)."""
        return len(self.leading)


class Technique:
    """One technique of a render (see the module docstring). Every method does nothing unless
    the technique needs it."""

    name = "technique"

    def prepare(self, job: RenderJob) -> None:
        """Before the text is encoded: add leading rows, change the start latent, build masks."""

    def condition(self, job: RenderJob) -> None:
        """After the text is encoded: add to ``job.conditioning``."""

    def hooks(self, job: RenderJob) -> AbstractContextManager[Any]:
        """Processors or hooks for the denoising loop, removed when the context exits."""
        return nullcontext()

    def before_step(self, i: int, n: int, latents: torch.Tensor) -> torch.Tensor:
        return latents

    def finish(self, latents: torch.Tensor) -> torch.Tensor:
        return latents

    def finish_images(self, images: list[Any]) -> list[Any]:
        """After decoding: the target row's PIL images, e.g. pasted over with kept pixels."""
        return images

    def provenance(self) -> dict[str, Any]:
        return {}


def prompt_of(plan: EditPlan) -> str:
    """The text the diffusion model is conditioned on: [gen], else the ops' targets."""
    return plan.gen or ", ".join(op.target for op in plan.ops if op.target)


# -- subjects ---------------------------------------------------------------------------------------


class Subjects(Technique):
    """``[sub]`` references (:mod:`anypix.tools.subject`): described in words when the model's
    subject encoder can (so its text path draws them), and as subject tokens or IP-Adapter
    embeddings in every row but the leading ones."""

    name = "subjects"

    def __init__(self) -> None:
        self.described: dict[str, str] = {}
        self.method = ""

    def prepare(self, job: RenderJob) -> None:
        """Put the subjects into the plan's words (before anything reads the prompt)."""
        from anypix.tools.subject import described_subjects

        job.plan, self.described = described_subjects(job.plan, job.images, job.components)

    def condition(self, job: RenderJob) -> None:
        from anypix.tools.subject import subject_conditioning

        assert job.conditioning is not None
        subjects = subject_conditioning(job.components, [job.images[n] for n in job.plan.subs])
        job.conditioning = subjects.apply(job.conditioning, skip_rows=range(job.rows))
        self.method = subjects.method

    def provenance(self) -> dict[str, Any]:
        described = {"subject_descriptions": self.described} if self.described else {}
        return {**described, "subjects": self.method}


# -- editing a [base] ---------------------------------------------------------------------------------


class InvertBase(Technique):
    """InstructAny2Pix's edit of a [base]: its DDIM inversion (fixed-point refined,
    :data:`~anypix.tools.invert.DEFAULT_INVERSION`) under the prompt (guidance 1),
    blended with the seed's noise by ``alpha`` into the start latent (alpha = 1 keeps the
    source; :mod:`anypix.tools.invert`)."""

    name = "invert_base"

    def prepare(self, job: RenderJob) -> None:
        from anypix.tools.invert import blend_start_latents

        assert job.plan.base is not None and job.start is not None
        job.base = job.invert(job.images[job.plan.base], job.prompt)
        job.start = blend_start_latents(job.base.noisiest, job.start, job.plan.knobs.alpha)

    def provenance(self) -> dict[str, Any]:
        from anypix.tools.invert import DEFAULT_INVERSION

        return {"start_blend": START_BLEND, "inversion_guidance": INVERSION_GUIDANCE,
                "inversion": DEFAULT_INVERSION.name}  # fmt: skip


# -- keep-outside compositing -------------------------------------------------------------------------


class KeepOutside(Technique):
    """Local edits keep the rest of the image: when a plan edits a [base] inside blobs or boxes,
    every latent cell no region touches is replaced, before each step, by the [base]'s inverted
    latent at that step (and by its clean latent at the end), as in blended latent diffusion.
    Ops that put something new in a region (add, replace, remove) start it from fresh noise."""

    name = "keep_outside"

    def __init__(self) -> None:
        self.inside: torch.Tensor | None = None  # (1, 1, h, w): 1 where a region touches a cell
        self.trajectory: InversionTrajectory | None = None
        self.rows = 0
        self.fresh_inside = False

    def prepare(self, job: RenderJob) -> None:
        import torch.nn.functional as F

        from anypix.models.blob import blob_masks, painted_regions
        from anypix.tools.layout import regions_of

        assert job.base is not None and job.start is not None
        width, height = job.size
        regions = regions_of(job.plan, width, height)
        masks = blob_masks(regions, height, width)
        painted = painted_regions(job.components.unet)
        if painted is not None:
            masks |= painted(regions, height, width)
        union = masks.any(dim=0, keepdim=True).unsqueeze(0).float()
        latent_size = tuple(job.base.noisiest.shape[-2:])
        inside = (F.adaptive_max_pool2d(union, latent_size) > 0).float()  # any pixel touched
        self.inside = inside.to(job.components.device, job.components.dtype)
        self.trajectory = job.base
        if any(op.op in FRESH_INSIDE for op in job.plan.ops):  # new content grows from noise
            job.start = self.inside * job.noise() + (1 - self.inside) * job.start
            self.fresh_inside = True

    def _keep(self, latents: torch.Tensor, step: int | None) -> torch.Tensor:
        """The target row with the outside replaced by the base's at sampling step ``step``
        (None: the clean latent, after the last step)."""
        import torch

        assert self.inside is not None and self.trajectory is not None
        target = latents[self.rows :]
        source = self.trajectory.latents[0] if step is None else self.trajectory.before_step(step)
        inside = self.inside.to(target.dtype)
        kept = inside * target + (1 - inside) * source.to(target.dtype)
        return torch.cat([latents[: self.rows], kept])

    def condition(self, job: RenderJob) -> None:
        self.rows = job.rows  # the rows ahead of the target are known by now

    def before_step(self, i: int, n: int, latents: torch.Tensor) -> torch.Tensor:
        return self._keep(latents, i)

    def finish(self, latents: torch.Tensor) -> torch.Tensor:
        return self._keep(latents, None)

    def provenance(self) -> dict[str, Any]:
        kept: dict[str, Any] = {"keep_outside_regions": KEEP_OUTSIDE}
        if self.fresh_inside:
            kept["start_inside_regions"] = "noise(seed)"
        return kept


# -- StyleAligned reference ---------------------------------------------------------------------------


class StyleReference(Technique):
    """StyleAligned: the reference rides along as a leading row -- inverted from a real image and
    replaced by its inverted latent before every step -- while shared attention lets the other
    rows attend to its keys and values (:mod:`anypix.models.attention`). The render inverts the
    plan's [style] image in :meth:`prepare`; ``anypix.tools.style`` gives a trajectory (or none:
    row 0 is then generated from its own prompt) and uses :meth:`share` and :meth:`before_step`."""

    name = "style_aligned"

    def __init__(
        self, options: StyleAlignedOptions = STYLE_OPTIONS,
        reference: InversionTrajectory | None = None,
    ) -> None:  # fmt: skip
        self.options, self.reference = options, reference
        self.row = 0

    def prepare(self, job: RenderJob) -> None:
        assert job.plan.style_ref is not None
        self.reference = job.invert(job.images[job.plan.style_ref], "")
        self.row = job.rows
        job.leading.append((self.reference.noisiest, ""))  # the reference is described by ""

    def share(self, unet: Any, *, do_cfg: bool) -> AbstractContextManager[Any]:
        """Shared attention on ``unet`` (its processors and norm hooks, removed on exit)."""
        from anypix.models.attention import style_aligned

        return style_aligned(unet, self.options, do_cfg=do_cfg)

    def hooks(self, job: RenderJob) -> AbstractContextManager[Any]:
        return self.share(job.components.unet, do_cfg=job.do_cfg)

    def before_step(self, i: int, n: int, latents: torch.Tensor) -> torch.Tensor:
        import torch

        if self.reference is None:
            return latents
        row = self.reference.before_step(i).to(latents.dtype)
        return torch.cat([latents[: self.row], row, latents[self.row + 1 :]])

    def provenance(self) -> dict[str, Any]:
        from anypix.tools.invert import DEFAULT_INVERSION

        return {"style_aligned": asdict(self.options), "style_inversion": DEFAULT_INVERSION.name}


# -- the refinement prior ----------------------------------------------------------------------------


class RefinementPrior(Technique):
    """InstructAny2Pix's refinement in the render (:mod:`anypix.tools.refine`): the [gen] --
    each [sub] reference embedded in the model's subject space (image or sound), or the plan's
    words when it has none -- goes through the prior, is mixed with [base] by the ``mix_*``
    knobs (unset: the model's measured ``prior_mix``), and conditions the target row as subject
    tokens: in place of the references' own tokens, or appended after the words. A plan whose
    mix has no prior and no [base] term renders exactly as without this technique."""

    name = "refinement_prior"

    def __init__(self) -> None:
        self.record: dict[str, Any] = {}

    def condition(self, job: RenderJob) -> None:
        from anypix.tools.subject import EmbeddingSubjects, SubjectConditioning

        subjects, plan = job.components.subject_encoder, job.plan
        defaults = _model_mix(job.components.preset)
        if not sets_mix(plan) and (defaults is None or not plan.subs):
            return  # a model without a measured default: references keep their own tokens
        if not isinstance(subjects, EmbeddingSubjects):
            raise NotAvailableError(
                f"preset {job.components.preset!r} cannot condition on the refinement prior",
                "remove the mix_* knobs, or use a preset whose subject tokens read an embedding",
            )
        weights = mix_weights(plan.knobs, defaults)
        if not uses_prior(weights):
            return
        tokens, used = self._tokens(job, subjects, weights)
        assert job.conditioning is not None
        if plan.subs:  # the Subjects technique appended the references' own tokens: replace them
            job.conditioning = _replace_target_tokens(job.conditioning, tokens, job.rows)
        else:
            null = subjects.null_tokens(1).flatten(0, 1)[None]
            job.conditioning = SubjectConditioning("tokens", tokens, null).apply(
                job.conditioning, skip_rows=range(job.rows)
            )
        self.record = {"refinement_prior": {
            "encoder": subjects.encoder.encoder_id, "prior_used": used,
            "gen": "subjects" if plan.subs else "words",
            "defaults": "plan" if sets_mix(plan) else "model", **weights}}  # fmt: skip

    @staticmethod
    def _tokens(job: RenderJob, subjects: Any, weights: dict[str, float]) -> tuple[Any, bool]:
        """Subject tokens (1, n*k, dim) of the refined [gen] vectors, and whether a prior ran."""
        import torch

        encoder, plan = subjects.encoder, job.plan
        with torch.inference_mode():
            if plan.subs:
                items = [job.images[name] for name in plan.subs]
                sources = [(encoder.embed([item], _modality(item))[0], _modality(item))
                           for item in items]  # fmt: skip
            else:
                sources = [(encoder.embed([job.prompt], "text")[0], "text")]
            base = None
            if plan.base is not None and weights["mix_base"] > 0:
                base = encoder.embed([job.images[plan.base]], "image")[0].cpu()
            prior = load_default_prior(encoder)
            vectors = refined_vectors(sources, prior, base, weights, PRIOR_SCORE)
            tokens = subjects.tokens(vectors).flatten(0, 1)[None]
        return tokens, prior is not None

    def provenance(self) -> dict[str, Any]:
        return self.record


def _modality(item: Any) -> str:
    """A [sub] item as loaded by the render: a PIL image, or a sound as (waveform, rate)."""
    return "audio" if isinstance(item, tuple) else "image"


def _model_mix(preset: str) -> Any:
    """The preset's measured default mix (None: none, or a preset the registry does not know,
    such as components built in code)."""
    from anypix.models.registry import known_capabilities

    known = known_capabilities(preset)
    return None if known is None else known.prior_mix


def _replace_target_tokens(conditioning: Conditioning, tokens: torch.Tensor, rows: int) -> Conditioning:
    """The conditioning with the last ``tokens.shape[1]`` tokens of the conditional target rows
    (those after ``rows`` leading rows) replaced by ``tokens``."""
    from dataclasses import replace

    hidden = conditioning.hidden.clone()
    first = conditioning.batch if conditioning.do_cfg else 0
    count = tokens.shape[1]
    hidden[first + rows :, -count:] = tokens.to(hidden.device, hidden.dtype)
    return replace(conditioning, hidden=hidden)


# -- blob / box grounding -----------------------------------------------------------------------------


class Grounding(Technique):
    """Blobs and boxes steer where things appear (:func:`anypix.tools.layout.grounding`: trained
    blob layers, GLIGEN, or regional cross-attention, whichever the model has)."""

    name = "grounding"

    def __init__(self) -> None:
        self.active: Any = None  # the GroundingHooks while the loop runs

    @contextmanager
    def _installed(self, job: RenderJob) -> Iterator[Any]:
        try:
            from anypix.tools.layout import grounding
        except ImportError:
            raise NotAvailableError(
                "blob and box grounding is not available in this build yet",
                "remove the [blob]/[box] lines from the plan",
            ) from None
        from anypix.models.diffusion import text_token_states

        width, height = job.size
        components = job.components
        with grounding(components, job.plan, height=height, width=width, do_cfg=job.do_cfg,
                       encode_text=lambda phrases: text_token_states(components, phrases),
                       ) as hooks:  # fmt: skip
            self.active = hooks
            try:
                yield hooks
            finally:
                self.active = None

    def hooks(self, job: RenderJob) -> AbstractContextManager[Any]:
        # Its processors and hooks see the real batch; no cross_attention_kwargs are needed.
        return self._installed(job)

    def before_step(self, i: int, n: int, latents: torch.Tensor) -> torch.Tensor:
        if self.active is not None:
            self.active.before_step(i, n)
        return latents
