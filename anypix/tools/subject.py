"""Subject references: conditioning a render on ``[sub]`` images, one interface for two methods.

* **Image-embedding tokens** for models that have their own (``subject_method="tokens"`` in
  their capabilities): the model's
  ``subject_encoder`` (a :class:`SubjectTokenEncoder`) turns each subject image into ``k`` tokens
  in the cross-attention space, appended after the prompt's tokens of the conditional rows; the
  unconditional rows get the encoder's null tokens so guidance pushes towards the subject.
  An encoder that can also *describe* subjects (:class:`SubjectDescriber`) puts
  each into words first, and :func:`described_subjects` writes them into the plan's blobs and
  [gen], so the model's text path draws what the subject is.
* **IP-Adapter** for real SD 1.5 / SDXL presets, through diffusers' ``load_ip_adapter``: the
  image embeddings go to the UNet as ``added_cond_kwargs["image_embeds"]`` and its decoupled
  cross-attention processors.

Either way :func:`subject_conditioning` returns a :class:`SubjectConditioning` whose
:meth:`~SubjectConditioning.apply` turns a text :class:`~anypix.models.diffusion.Conditioning`
into one that also carries the subjects. Rows listed in ``skip_rows`` (a StyleAligned reference
that must be rebuilt as it was) get the unconditional subject inputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from anypix.errors import ModelUnavailableError, NotAvailableError
from anypix.models.diffusion import Components, Conditioning

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from anypix.plan import EditPlan

IP_ADAPTER_WEIGHTS = {
    False: ("models", "ip-adapter_sd15.bin"),
    True: ("sdxl_models", "ip-adapter_sdxl.bin"),
}


@runtime_checkable
class SubjectTokenEncoder(Protocol):
    """What a model with its own image-embedding tokens provides as ``Components.subject_encoder``."""

    def encode_subjects(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(subjects, tokens_per_subject, cross_attention_dim) tokens for the conditional rows."""
        ...

    def null_tokens(self, subjects: int) -> torch.Tensor:
        """Tokens of the same shape that mean "no subject", for the unconditional rows."""
        ...


@runtime_checkable
class EmbeddingSubjects(Protocol):
    """A subject encoder whose tokens read vectors of an embedding space (a binding encoder's),
    so anything embedded there -- the refinement prior's output too -- can condition a render."""

    @property
    def encoder(self) -> Any:
        """The :class:`~anypix.models.encoders.Encoder` of that space."""
        ...

    def tokens(self, vectors: torch.Tensor) -> torch.Tensor:
        """(n, dim) vectors -> (n, tokens_per_subject, cross_attention_dim) tokens."""
        ...

    def null_tokens(self, subjects: int) -> torch.Tensor: ...


@runtime_checkable
class SubjectDescriber(Protocol):
    """A subject encoder that can also put subjects into words the model's text path knows."""

    def describe(self, items: Sequence[Any]) -> list[str]: ...


def described_subjects(
    plan: EditPlan, subjects: Mapping[str, Any], components: Components
) -> tuple[EditPlan, dict[str, str]]:
    """The plan with each [sub] named in its [gen] and blob sentences replaced by the subject
    encoder's words for it ("add [tone]": blob "tone" -> "a cyan ellipse"), and those words by
    name; the plan as it is when the encoder cannot describe (IP-Adapter presets) or there are no
    subjects. The subject tokens still condition the render."""
    encoder = components.subject_encoder
    if not plan.subs or not isinstance(encoder, SubjectDescriber):
        return plan, {}
    words = dict(zip(plan.subs, encoder.describe([subjects[n] for n in plan.subs]), strict=True))

    def put(text: str) -> str:
        if text in words:
            return words[text]
        # "the tone" -> "cyan ring", "a big tone" -> "a big cyan ring"
        for name, said in words.items():
            text = re.sub(rf"\b(?:an?|the)\s+{re.escape(name)}\b", said, text)
            text = re.sub(rf"\b{re.escape(name)}\b", re.sub(r"^(?:an?|the)\s+", "", said), text)
        return text

    blobs = [b.model_copy(update={"description": put(b.description)}) for b in plan.blobs]
    gen = put(plan.gen) if plan.gen else plan.gen
    return plan.model_copy(update={"blobs": blobs, "gen": gen}), words


@dataclass
class SubjectConditioning:
    method: Literal["tokens", "ip-adapter"]
    cond: torch.Tensor  # tokens (1, n*k, dim) or IP-Adapter image embeds (1, n, dim)
    uncond: torch.Tensor
    scale: float = 1.0

    def apply(self, conditioning: Conditioning, skip_rows: Sequence[int] = ()) -> Conditioning:
        """Conditioning with the subjects added to every image of the batch but ``skip_rows``
        (indices within one guidance half)."""
        import torch

        per_half = conditioning.batch
        rows = [self.uncond if i in skip_rows else self.cond for i in range(per_half)]
        if conditioning.do_cfg:
            rows = [self.uncond] * per_half + rows
        stacked = torch.cat(rows).to(conditioning.hidden.device, conditioning.hidden.dtype)
        if self.method == "tokens":
            hidden = torch.cat([conditioning.hidden, stacked], dim=1)
            return replace(conditioning, hidden=hidden)
        added = dict(conditioning.added or {})
        added["image_embeds"] = [stacked]
        return replace(conditioning, added=added)


def subject_conditioning(
    components: Components, images: Sequence[Image.Image], *, scale: float = 1.0
) -> SubjectConditioning:
    """Encode subject images with the model's own tokens if it has them, else IP-Adapter."""
    import torch

    if not images:
        raise ValueError("subject_conditioning needs at least one image")
    from PIL import Image as PILImage

    sounds = [item for item in images if not isinstance(item, PILImage.Image)]
    with torch.inference_mode():
        encoder = components.subject_encoder
        if sounds and encoder is None:
            raise NotAvailableError(
                f"preset {components.preset!r} cannot use a sound as a [sub] reference",
                "attach an image, or use a preset whose subject encoder embeds audio "
                "(anypix models)",
            )
        if encoder is not None:
            cond = encoder.encode_subjects(list(images))
            uncond = encoder.null_tokens(len(images))
            return SubjectConditioning(
                "tokens", cond.flatten(0, 1)[None], uncond.flatten(0, 1)[None]
            )
        pipe = components.pipeline
        if getattr(pipe, "image_encoder", None) is None or _projection(components) is None:
            load_ip_adapter(components)
        pipe.set_ip_adapter_scale(scale)
        (embeds,) = pipe.prepare_ip_adapter_image_embeds(
            [list(images)], None, components.device, 1, True
        )
        uncond, cond = embeds.chunk(2)
        return SubjectConditioning("ip-adapter", cond, uncond, scale)


def _projection(components: Components) -> Any:
    return getattr(components.unet, "encoder_hid_proj", None)


def load_ip_adapter(
    components: Components,
    source: str | Path | dict[str, Any] | None = None,
    *,
    image_encoder: Any = None,
    feature_extractor: Any = None,
) -> None:
    """Load IP-Adapter weights into the pipeline (diffusers' loader).

    ``source`` defaults to the preset's IP-Adapter repository, from ``model_paths['ip-adapter']``
    or the local Hub cache; a state dict (``{"image_proj": ..., "ip_adapter": ...}``) may be given
    with its ``image_encoder`` and ``feature_extractor`` (tests use tiny random ones)."""
    pipe = components.pipeline
    if pipe is None or not hasattr(pipe, "load_ip_adapter"):
        raise NotAvailableError(
            f"preset {components.preset!r} supports neither subject tokens nor IP-Adapter",
            "use a preset with subject support (anypix models)",
        )
    if image_encoder is not None:
        pipe.register_modules(image_encoder=image_encoder, feature_extractor=feature_extractor)
    subfolder, weight_name = IP_ADAPTER_WEIGHTS[components.is_sdxl]
    if isinstance(source, dict):
        pipe.load_ip_adapter(source, subfolder="", weight_name="", image_encoder_folder=None)
    else:
        folder = str(source) if source is not None else _ip_adapter_dir(components)
        pipe.load_ip_adapter(folder, subfolder=subfolder, weight_name=weight_name)
    pipe.to(components.device)


def _ip_adapter_dir(components: Components) -> str:
    from anypix.config import load_settings
    from anypix.models.registry import get_preset

    repo = get_preset(components.preset).extra.get("ip_adapter")
    if repo is None:
        raise NotAvailableError(
            f"preset {components.preset!r} has no IP-Adapter for [sub] references",
            "use sd15 or sdxl, or a preset with its own subject tokens (anypix models)",
        )
    settings = load_settings()
    local = settings.model_paths.get("ip-adapter")
    if local is not None:
        return str(local)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo, local_files_only=not settings.allow_downloads)
    except Exception:  # not cached: huggingface_hub raises several types for this
        raise ModelUnavailableError(
            f"IP-Adapter weights ({repo}) for [sub] references are not on this machine",
            "download them once and set model_paths.ip-adapter to the directory",
        ) from None
