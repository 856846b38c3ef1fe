"""Layout grounding for a render: blobs and boxes of a plan steer where things appear.

:func:`grounding` is what the render function calls. It picks one of three techniques:

1. **trained blob layers** (BlobGEN) when the UNet has them (``models.blob.add_blob_layers``);
2. **GLIGEN** box grounding when the UNet is a GLIGEN UNet (diffusers' gated self-attention,
   ``attention_type="gated"``), with scheduled sampling: grounding is on for the first
   ``beta * steps`` steps (``plan.knobs.beta``);
3. otherwise **regional cross-attention masking**, training-free, for any SD/SDXL checkpoint.

Boxes take part everywhere: GLIGEN grounds them directly (and blobs through their bounding
boxes), the blob techniques treat a box as the ellipse inscribed in it. Everything installed is
removed on exit, leaving the UNet exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from anypix.models.blob import BlobBatch, blob_masks, get_blob_layers
from anypix.models.regional import RegionalContext, regional_attention
from anypix.plan import Blob, Box, EditPlan

__all__ = ["GroundingHooks", "blob_masks", "grounding", "layout_masks", "regions_of"]

GroundingMode = Literal["none", "blob_layers", "gligen", "regional"]
EncodeText = Callable[[list[str]], torch.Tensor]
GLIGEN_MAX_OBJECTS = 30  # what the GLIGEN checkpoints were trained with (diffusers pads to it)


@dataclass
class GroundingHooks:
    """What a render needs from the grounding: kwargs for every UNet call and a per-step hook.

    ``cross_attention_kwargs`` stays empty: the techniques reach the UNet through removable
    processors and hooks that see the real batch, so it works for any batch size. ``active`` says
    whether grounding acts on the next UNet call (GLIGEN turns it off after ``beta * steps``)."""

    mode: GroundingMode = "none"
    cross_attention_kwargs: dict[str, Any] = field(default_factory=dict)
    active: bool = False
    beta: float = 1.0
    _switch: Callable[[bool], None] | None = field(default=None, repr=False)

    def before_step(self, i: int, num_steps: int) -> None:
        """Called by the render before denoising step ``i`` of ``num_steps``."""
        if self._switch is None:
            return
        on = i < int(self.beta * num_steps)
        if on != self.active:
            self._switch(on)
            self.active = on


# -- regions ----------------------------------------------------------------------------------------
def box_as_blob(box: Box, width: int, height: int) -> Blob:
    """The ellipse inscribed in a box, so box layouts work on the blob techniques too."""
    side = min(width, height)
    half_w, half_h = (box.x1 - box.x0) * width / 2 / side, (box.y1 - box.y0) * height / 2 / side
    a, b, angle = (half_w, half_h, 0.0) if half_w >= half_h else (half_h, half_w, 90.0)
    return Blob(
        description=box.phrase,
        cx=(box.x0 + box.x1) / 2,
        cy=(box.y0 + box.y1) / 2,
        a=max(a, 1e-4),
        b=max(b, 1e-4),
        angle=angle,
    )


def regions_of(plan: EditPlan, width: int, height: int) -> list[Blob]:
    """The plan's blobs followed by its boxes as inscribed ellipses."""
    return [*plan.blobs, *(box_as_blob(box, width, height) for box in plan.boxes)]


def _component(components: Any, name: str) -> Any:
    if isinstance(components, dict):
        return components.get(name)
    return getattr(components, name, None)


def _token_mask(components: Any, sentences: list[str], num_tokens: int) -> torch.Tensor:
    """(n, T) bool: which of the ``num_tokens`` positions of each sentence are real tokens."""
    tokenizer = _component(components, "tokenizer")
    if tokenizer is None:
        return torch.ones(len(sentences), num_tokens, dtype=torch.bool)
    encoded = tokenizer(
        sentences, padding="max_length", max_length=num_tokens, truncation=True, return_tensors="pt"
    )
    return encoded.attention_mask.bool()


def _sentence_tokens(
    components: Any, sentences: list[str], encode_text: EncodeText
) -> tuple[torch.Tensor, torch.Tensor]:
    embeddings = encode_text(sentences)
    return embeddings, _token_mask(components, sentences, embeddings.shape[1])


# -- the three techniques -----------------------------------------------------------------------------
@contextmanager
def _blob_layer_grounding(
    unet: nn.Module,
    regions: list[Blob],
    components: Any,
    encode_text: EncodeText,
    size: tuple[int, int],
    cfg: bool,
) -> Iterator[GroundingHooks]:
    layers = get_blob_layers(unet)
    assert layers is not None
    sentences = [r.description for r in regions]
    embeddings, token_mask = _sentence_tokens(components, sentences, encode_text)
    batch = BlobBatch.from_blobs(regions, embeddings, token_mask, *size, layers.region_masks)
    with layers.conditioned(batch, cfg=cfg):
        yield GroundingHooks(mode="blob_layers", active=True)


@contextmanager
def _regional_grounding(
    unet: nn.Module,
    regions: list[Blob],
    components: Any,
    encode_text: EncodeText,
    size: tuple[int, int],
    cfg: bool,
) -> Iterator[GroundingHooks]:
    embeddings, token_mask = _sentence_tokens(
        components, [r.description for r in regions], encode_text
    )
    # The first token (CLIP's start token) is the same for every sentence: it says nothing about
    # the blob and would only dilute the attention, so each blob contributes its real tokens after it.
    token_mask[:, 0] = False
    blob_index = torch.arange(len(regions)).unsqueeze(1).expand_as(token_mask)
    region = RegionalContext(
        tokens=embeddings[token_mask.to(embeddings.device)],
        token_blob=blob_index[token_mask],
        masks=blob_masks(regions, *size),
        cfg=cfg,
    )
    with regional_attention(unet, region):
        yield GroundingHooks(mode="regional", active=True)


def is_gligen_unet(unet: nn.Module) -> bool:
    return getattr(unet, "position_net", None) is not None


def _phrase_embeddings(
    components: Any, phrases: list[str], encode_text: EncodeText
) -> torch.Tensor:
    """One embedding per phrase, as GLIGEN was trained: the text encoder's pooled output (CLIP's
    final-normed end-of-text token); without a text encoder, that token from ``encode_text``."""
    tokenizer, text_encoder = (
        _component(components, "tokenizer"),
        _component(components, "text_encoder"),
    )
    if tokenizer is not None and text_encoder is not None:
        inputs = tokenizer(phrases, padding=True, return_tensors="pt").to(text_encoder.device)
        with torch.no_grad():
            pooled = getattr(text_encoder(**inputs), "pooler_output", None)
        if pooled is not None:
            return pooled
    embeddings, token_mask = _sentence_tokens(components, phrases, encode_text)
    last = token_mask.sum(dim=1).clamp(min=1) - 1
    return embeddings[torch.arange(len(phrases)), last.to(embeddings.device)]


class _GligenInputs:
    """UNet forward pre-hook that adds ``cross_attention_kwargs["gligen"]`` for the real batch."""

    def __init__(
        self, boxes: torch.Tensor, embeddings: torch.Tensor, masks: torch.Tensor, cfg: bool
    ) -> None:
        self.boxes, self.embeddings, self.masks, self.cfg = boxes, embeddings, masks, cfg
        self.active = True

    def __call__(self, module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        if not self.active:
            return None
        sample = args[0] if args else kwargs["sample"]
        batch = sample.shape[0]
        masks = self.masks.expand(batch, -1).clone()
        if self.cfg and batch % 2 == 0:
            masks[: batch // 2] = 0  # the unconditional half sees only null objects (as diffusers)
        gligen = {
            "boxes": self.boxes.expand(batch, -1, -1).to(sample),
            "positive_embeddings": self.embeddings.expand(batch, -1, -1).to(sample),
            "masks": masks.to(sample),
        }
        kwargs = {
            **kwargs,
            "cross_attention_kwargs": {
                **(kwargs.get("cross_attention_kwargs") or {}),
                "gligen": gligen,
            },
        }
        return args, kwargs


@contextmanager
def _gligen_grounding(
    unet: nn.Module,
    plan: EditPlan,
    components: Any,
    encode_text: EncodeText,
    size: tuple[int, int],
    cfg: bool,
) -> Iterator[GroundingHooks]:
    from diffusers.models.attention import GatedSelfAttentionDense

    height, width = size
    items = [(box.phrase, box.xyxy()) for box in plan.boxes]
    items += [(blob.description, blob.bbox(width, height).xyxy()) for blob in plan.blobs]
    items = items[:GLIGEN_MAX_OBJECTS]
    pooled = _phrase_embeddings(components, [phrase for phrase, _ in items], encode_text)
    boxes = torch.zeros(1, GLIGEN_MAX_OBJECTS, 4)
    boxes[0, : len(items)] = torch.tensor([xyxy for _, xyxy in items])
    embeddings = torch.zeros(1, GLIGEN_MAX_OBJECTS, pooled.shape[-1], dtype=pooled.dtype)
    embeddings[0, : len(items)] = pooled.cpu()
    masks = torch.zeros(1, GLIGEN_MAX_OBJECTS)
    masks[0, : len(items)] = 1
    inputs = _GligenInputs(boxes, embeddings, masks, cfg)
    fusers = [m for m in unet.modules() if isinstance(m, GatedSelfAttentionDense)]
    enabled = [fuser.enabled for fuser in fusers]

    def switch(on: bool) -> None:
        inputs.active = on
        for fuser in fusers:
            fuser.enabled = on

    handle = unet.register_forward_pre_hook(inputs, with_kwargs=True)
    switch(True)
    try:
        yield GroundingHooks(mode="gligen", active=True, beta=plan.knobs.beta, _switch=switch)
    finally:
        handle.remove()
        for fuser, was in zip(fusers, enabled, strict=True):
            fuser.enabled = was


@contextmanager
def grounding(
    components: Any,
    plan: EditPlan,
    *,
    height: int,
    width: int,
    do_cfg: bool,
    encode_text: EncodeText,
) -> Iterator[GroundingHooks]:
    """Ground a render on the plan's blobs and boxes (see the module docstring for the choice).

    ``components`` has at least ``unet`` (and ``tokenizer``/``text_encoder`` to find real tokens);
    ``encode_text(sentences)`` returns per-token embeddings (n, T, D) from the pipeline's text
    encoder. With ``do_cfg`` the UNet batch is ``[uncond..., cond...]`` and only the conditional
    half is grounded. The render's :class:`~anypix.tools.techniques.Grounding` technique enters
    it around the denoising loop and calls ``hooks.before_step(i, num_steps)`` before each step."""
    unet = _component(components, "unet")
    if unet is None:
        raise ValueError("grounding needs components with a 'unet'")
    if not plan.blobs and not plan.boxes:
        yield GroundingHooks()
        return
    size, regions = (height, width), regions_of(plan, width, height)
    if get_blob_layers(unet) is not None:
        technique = _blob_layer_grounding(unet, regions, components, encode_text, size, do_cfg)
    elif is_gligen_unet(unet):
        technique = _gligen_grounding(unet, plan, components, encode_text, size, do_cfg)
    else:
        technique = _regional_grounding(unet, regions, components, encode_text, size, do_cfg)
    with technique as hooks:
        yield hooks


# -- the tool -----------------------------------------------------------------------------------------
def layout_masks(
    layout: str,
    width: int = 512,
    height: int = 512,
    save_to: str | None = None,
) -> dict[str, Any]:
    """Check a BlobGEN blob layout: where each blob falls on the canvas and how much of it it covers.

    Args:
        layout: one CSS rule per blob, e.g. "dog {major-radius: 162px; minor-radius: 76px; cx: 444px; cy: 258px; angle: 96}".
        width: canvas width in pixels.
        height: canvas height in pixels.
        save_to: optional PNG path; the masks are drawn there, one grey level per blob.
    """
    from anypix.plan import parse_css_layout

    blobs = parse_css_layout(layout, width, height)
    masks = blob_masks(blobs, height, width)
    report = [
        {
            "label": blob.label,
            "coverage": round(float(mask.float().mean()), 4),
            "bbox": list(blob.bbox(width, height).xyxy()),
        }
        for blob, mask in zip(blobs, masks, strict=True)
    ]
    overlap = float((masks.sum(dim=0) > 1).float().mean()) if len(blobs) else 0.0
    if save_to:
        _save_mask_image(masks, save_to)
    return {"blobs": report, "overlap": round(overlap, 4), "width": width, "height": height}


def _save_mask_image(masks: torch.Tensor, path: str) -> None:
    from PIL import Image

    canvas = torch.zeros(masks.shape[-2:], dtype=torch.uint8)
    for index, mask in enumerate(masks, 1):
        canvas[mask] = int(255 * index / len(masks))
    Image.fromarray(canvas.numpy()).save(path)
