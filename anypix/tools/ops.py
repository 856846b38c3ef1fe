"""Each op as an operation on the [base], not only words for the model (docs/ops.md).

A local edit's blobs belong to its ops in order: ``add``, ``recolor``, ``remove`` and
``replace`` own one blob each (where the object goes, or where the locator found it); a located
``move`` owns two, where the object was (saying "background") and where it goes. For such a
plan :func:`edit_base` works out, in pixels, what each op does to the [base] before the model
sees it, which pixels the model redraws and how they start:

* ``add``: the blob is redrawn from fresh noise, grounded by its words;
* ``remove``: the object's own pixels (segmented inside its blob, grown by ``HOLE_GROW``) are
  filled with the background around them (:mod:`anypix.tools.fill`) and redrawn from that fill,
  part noised, grounded by an empty "background" blob -- the region a model that learnt empty
  regions paints; where the redraw strays from the fill (a model that never learnt them paints
  an object there), the fill stays (:data:`EMPTY_TOLERANCE`);
* ``replace``: the old object is removed as above, and its blob redrawn from noise with the
  new words;
* ``recolor``: only the object's own pixels are redrawn, from noise, grounded by its blob's new
  colour words; its holes and edges are not in the region, so its shape is held by the mask;
* ``move``: the object's pixels are copied to the new place (pixel compositing: the latents of
  a pixel-space model, an exact paste for any VAE), its old place is emptied as by ``remove``.

A lone ``restyle`` or ``variation`` owns no blob; it works on the whole [base] around its objects
(:func:`~anypix.models.masks.objects_mask`):

* ``restyle``: the objects are kept pixel for pixel and the background redrawn; after a
  ``[style]`` picture it starts from that picture's inversion (``RESTYLE_ALPHA``) under the
  words the picture was inverted with (none), so the model's style path draws its texture;
* ``variation``: the [base]'s inversion, part noised (``VARIATION_ALPHA``), is redrawn under the
  words it was inverted with, its objects held to the inversion for the first
  ``VARIATION_HOLD`` of the steps (their colour and place), everything drawn anew after.

Everything outside the redrawn pixels is the [base]'s, pixel for pixel: :class:`KeepEdited`
keeps the inverted [base] outside at every step (as blended latent diffusion) and pastes the
prepared [base] over the decoded image at the end. Plans whose blobs do not pair with their ops
(a plan with its own free layout) keep the plain keep-outside edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from anypix.models.masks import candidate_regions, objects_mask, rim_of, with_pieces
from anypix.plan import Blob, EditPlan, Op
from anypix.tools.fill import continue_background, dilate, shift
from anypix.tools.techniques import KeepOutside, RenderJob, Technique

if TYPE_CHECKING:
    import torch
    from PIL import Image

# px an emptied object's mask grows by: its soft rim goes too (a model draws edges 2 px wide; at
# 1 px a ring's removal left a pink halo for the fill to smear over the hole)
HOLE_GROW = 2
EMPTY_ALPHA = 0.5  # how much of the filled [base] an emptied region's start keeps
# Mean absolute difference (0-255) from the fill above which a redrawn empty region is taken to
# hold something new, and the fill is kept instead.
EMPTY_TOLERANCE = 24.0
# ... or whose pixels stand out from the fill (STANDS_OUT) over more than this share of it.
EMPTY_FAR_SHARE = 0.02
ONE_REGION = frozenset({"add", "recolor", "remove", "replace"})
STANDS_OUT = 40  # 0-255: a redrawn pixel this far from the background is the object's colour
# A recoloured object's rim (recolour_rim): RIM px round its mask, where a pixel that is at least
# MIN_SHARE object and lies within MIX_OFF (of the object-background distance) of the line
# between their colours is a mix of the two.
RIM = 2
MIN_SHARE = 0.15
MIX_OFF = 0.35
SEGMENT_SIDE = 64  # objects are segmented on a copy this size (the locator's)
MIN_INSIDE = 0.6  # a segmented region lies at least this much inside its blob
PIECE_INSIDE = 0.3  # ... and a piece of it (another shade of the object) this much
# How much of the style reference's inversion a restyled background starts from (SDEdit
# strength 1 - alpha): its texture, redrawn by the model around the kept objects.
RESTYLE_ALPHA = 0.9
# The share of a variation's steps its objects follow the [base]'s inversion: their colour and
# place are settled by then, their edges and shading (and all the rest) drawn anew after.
VARIATION_HOLD = 0.5
VARIATION_ALPHA = 0.85  # a variation's start: this much of the [base]'s inversion (unless set)


Painted = Callable[[Blob, int, int], np.ndarray]  # (blob, width, height) -> (H, W) bool


@dataclass
class BaseEdit:
    """What a plan's ops do to its [base], in pixels of the render's size."""

    image: np.ndarray  # the [base] as the ops leave it before the model: (H, W, 3) uint8
    region: np.ndarray  # (H, W) bool: pixels the model redraws; all others stay the image's
    fresh: np.ndarray  # (H, W) bool: redrawn from fresh noise (new content)
    empty: list[np.ndarray] = field(default_factory=list)  # emptied regions, filled, one per op
    # Recoloured objects: (their pixels, their blob); the model redraws the blob for the colour.
    recolored: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    restyled: np.ndarray | None = None  # (H, W) bool: the background a restyle redraws
    held: np.ndarray | None = None  # (H, W) bool: objects a variation holds to the [base] early
    done: list[str] = field(default_factory=list)  # one line per op, for the render's record


def paired_regions(plan: EditPlan) -> list[tuple[Op, tuple[Blob, ...]]] | None:
    """Each op with the blobs it owns, or None when the plan's blobs do not pair with its ops."""
    if plan.base is None or plan.boxes:
        return None
    kinds = [op.op for op in plan.ops]
    if kinds in (["restyle"], ["variation"]) and not plan.blobs:
        return [(plan.ops[0], ())]
    if kinds == ["move"] and len(plan.blobs) == 2:
        return [(plan.ops[0], (plan.blobs[0], plan.blobs[1]))]
    if set(kinds) <= ONE_REGION and len(plan.blobs) == len(plan.ops):
        return [(op, (blob,)) for op, blob in zip(plan.ops, plan.blobs, strict=True)]
    return None


def object_mask(image: np.ndarray, blob: Blob) -> np.ndarray:
    """The object inside ``blob``: the connected region of one colour with the most pixels in
    the blob (at least ``MIN_INSIDE`` of it inside), with the regions that are pieces of it
    (:func:`~anypix.models.masks.piece_of`, at least ``PIECE_INSIDE`` inside: an object drawn
    in two shades) and its rim (:func:`~anypix.models.masks.rim_of`, a darker edge, inside the
    blob or not), holes left open; the blob's ellipse when no region fits (an image the
    segmentation cannot read)."""
    from anypix.tools.locate import resize

    height, width = image.shape[:2]
    small = resize(image, SEGMENT_SIDE)
    inside = blob.mask(SEGMENT_SIDE, SEGMENT_SIDE)
    regions = candidate_regions(small)
    best, best_count = None, 0
    for region in regions:
        count = int((region & inside).sum())
        if count > best_count and count >= MIN_INSIDE * region.sum():
            best, best_count = region, count
    if best is None:
        return blob.mask(width, height)
    mostly_inside = [r for r in regions if (r & inside).sum() >= PIECE_INSIDE * r.sum()]
    best = with_pieces(small, best, mostly_inside)
    for region in regions:  # its rim in a darker shade, wherever the blob ends
        if rim_of(small, region, best):
            best = best | region
    if (height, width) == best.shape:
        return best
    rows = np.arange(height) * SEGMENT_SIDE // height
    cols = np.arange(width) * SEGMENT_SIDE // width
    return best[rows[:, None], cols[None, :]]


def move_offset(source: Blob, target: Blob, size: tuple[int, int]) -> tuple[int, int]:
    """(dy, dx) in pixels that takes ``source``'s centre to ``target``'s."""
    width, height = size
    return round((target.cy - source.cy) * height), round((target.cx - source.cx) * width)


def inside_canvas(mask: np.ndarray, offset: tuple[int, int]) -> tuple[int, int]:
    """``offset`` (dy, dx) changed as little as keeps ``mask`` moved by it inside the canvas
    (a large triangle taken to the right whole, not cut off by the edge); unchanged where the
    mask is too big to fit."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return offset
    height, width = mask.shape
    dy, dx = offset
    if ys.max() - ys.min() < height:
        dy = min(max(dy, -int(ys.min())), height - 1 - int(ys.max()))
    if xs.max() - xs.min() < width:
        dx = min(max(dx, -int(xs.min())), width - 1 - int(xs.max()))
    return dy, dx


def edit_base(
    plan: EditPlan, base: np.ndarray, painted: Painted | None = None
) -> BaseEdit | None:
    """What ``plan``'s ops do to ``base`` ((H, W, 3) uint8 at the render's size); None when its
    blobs do not pair with its ops (see :func:`paired_regions`). ``painted`` is the region a
    model that paints shapes conditions a new object's blob on (a rectangle's corners reach past
    its ellipse): it is redrawn too, else those corners would stay the [base]'s."""
    pairs = paired_regions(plan)
    if pairs is None:
        return None
    height, width = base.shape[:2]
    none = np.zeros((height, width), dtype=bool)
    edit = BaseEdit(base.copy(), none.copy(), none.copy())

    def new_place(blob: Blob) -> np.ndarray:
        inside = blob.mask(width, height)
        return inside if painted is None else inside | painted(blob, width, height)

    for op, blobs in pairs:
        if op.op == "add":
            inside = new_place(blobs[0])
            edit.region |= inside
            edit.fresh |= inside
            edit.done.append(f"add: blob {blobs[0].label} redrawn from noise")
        elif op.op == "recolor":
            shape, inside = object_mask(base, blobs[0]), blobs[0].mask(width, height)
            edit.region |= inside
            edit.fresh |= inside
            edit.recolored.append((shape, inside))
            edit.done.append(f"recolor: blob {blobs[0].label} redrawn from noise for its colour, "
                             f"given to the object's {int(shape.sum())} px")  # fmt: skip
        elif op.op in ("remove", "replace"):
            hole = _empty(edit, base, object_mask(base, blobs[0]))
            edit.done.append(f"{op.op}: {int(hole.sum())} px filled with the background")
            if op.op == "replace":
                inside = new_place(blobs[0])
                edit.region |= inside
                edit.fresh |= inside
                edit.empty[-1] &= ~inside  # the new object's place is not empty
                edit.done[-1] += f", blob {blobs[0].label} redrawn from noise"
        elif op.op == "restyle":
            objects = objects_mask(base)
            edit.region |= ~objects
            edit.fresh |= ~objects
            edit.restyled = ~objects
            edit.done.append(f"restyle: the background redrawn from noise, {int(objects.sum())} "
                             "px of objects kept")  # fmt: skip
        elif op.op == "variation":
            edit.region |= True
            edit.held = objects_mask(base)
            edit.done.append("variation: the whole [base] redrawn from its inversion, "
                             "described as it was inverted")  # fmt: skip
        else:  # a located move: (where it was, where it goes)
            shape = object_mask(base, blobs[0])
            dy, dx = inside_canvas(shape, move_offset(blobs[0], blobs[1], (width, height)))
            hole = _empty(edit, base, shape)
            moved = shift(shape, dy, dx)
            edit.image[moved] = shift(base, dy, dx)[moved]
            edit.region &= ~moved
            edit.empty[-1] &= ~moved
            edit.done.append(f"move: {int(moved.sum())} px pasted {dx:+d}, {dy:+d} px away; "
                             f"{int((hole & ~moved).sum())} px filled with the background")  # fmt: skip
    return edit


def drawn_colour(
    drawn: np.ndarray, base: np.ndarray, shape: np.ndarray, inside: np.ndarray
) -> np.ndarray:
    """The colour the model gave the object: the median of the redrawn pixels over the object
    that stand out from the background round the blob (all of them if none does)."""
    ring = dilate(inside, 2) & ~inside
    background = np.median(base[ring], axis=0) if ring.any() else np.median(base, axis=(0, 1))
    pixels = drawn[shape].astype(np.float64)
    distinct = np.abs(pixels - background).max(-1) > STANDS_OUT
    return np.median(pixels[distinct] if distinct.sum() >= 4 else pixels, axis=0)


def recolour(base: np.ndarray, shape: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The object's pixels in ``colour``, keeping their shading: each pixel's difference from
    the object's median colour rides on the new colour."""
    pixels = base[shape].astype(np.float64)
    shaded = colour + (pixels - np.median(pixels, axis=0))
    return np.clip(shaded.round(), 0, 255).astype(np.uint8)


def recolour_rim(
    image: np.ndarray, shape: np.ndarray, colour: np.ndarray, within: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(the pixels, their new values) round the object ``shape`` of ``image`` that are part
    object, part background -- a soft edge, a speck its segmentation missed -- with the object's
    part in ``colour``. Each pixel of the rim (``RIM`` px, inside ``within``, not another
    object's) is read as a mix of the object's median colour and the background's round it: its
    share of the object is its projection on the line between the two, kept where it lies near
    that line (``MIX_OFF`` of the distance between them) and is at least ``MIN_SHARE``; that
    share moves to the new colour, the background's stays. Without it a recoloured object kept
    a fringe of its old colour."""
    others = objects_mask(image) & ~shape
    rim = dilate(shape, RIM) & ~shape & within & ~others
    around = dilate(shape, RIM + 2) & ~dilate(shape, RIM) & ~others
    if not rim.any() or not around.any():
        return np.zeros_like(rim), np.zeros((0, 3), np.uint8)
    old = np.median(image[shape].astype(np.float64), axis=0)
    background = np.median(image[around].astype(np.float64), axis=0)
    axis = old - background
    length = float(np.linalg.norm(axis))
    if length < STANDS_OUT:  # the object hardly stands out: nothing to unmix
        return np.zeros_like(rim), np.zeros((0, 3), np.uint8)
    pixels = image[rim].astype(np.float64)
    share = (pixels - background) @ axis / length**2
    off = np.linalg.norm(pixels - background - share[:, None] * axis, axis=1)
    mixed = (share >= MIN_SHARE) & (off <= MIX_OFF * length)
    share = np.clip(share, 0.0, 1.0)
    moved = pixels + share[:, None] * (np.asarray(colour, np.float64) - old)
    where = np.zeros_like(rim)
    where[rim] = mixed
    return where, np.clip(moved[mixed].round(), 0, 255).astype(np.uint8)


def _empty(edit: BaseEdit, base: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Take the object ``shape`` out of ``edit.image``: its grown mask (not reaching into
    another object) is filled with the background around it and redrawn from that fill."""
    objects = objects_mask(edit.image)
    hole = dilate(shape, HOLE_GROW) & ~edit.fresh & ~(objects & ~shape)
    edit.image = continue_background(edit.image, hole, objects)
    edit.region |= hole
    edit.empty.append(hole)
    return hole


def _redrawn_as_inverted(plan: EditPlan) -> bool:
    """A variation, or a restyle after a reference: the model redraws an inversion (the
    [base]'s, the reference's) under the words it was inverted with, none."""
    kinds = [op.op for op in plan.ops]
    return kinds == ["variation"] or (kinds == ["restyle"] and plan.style_ref is not None)


# -- the techniques -----------------------------------------------------------------------------------


class PrepareBase(Technique):
    """Runs before the [base] is inverted: the [base] becomes what the ops make of it (filled,
    pasted) and :attr:`edit` says which pixels the model redraws (:func:`edit_base`)."""

    name = "op_edits"

    def __init__(self) -> None:
        self.edit: BaseEdit | None = None

    def prepare(self, job: RenderJob) -> None:
        from PIL import Image

        base = job.plan.base
        assert base is not None
        image = job.images[base].convert("RGB").resize(job.size, Image.Resampling.BOX)
        self.edit = edit_base(job.plan, np.asarray(image), _painted(job))
        if self.edit is not None and _redrawn_as_inverted(job.plan):
            # The background is the reference's, redrawn: described as the reference was
            # inverted (by nothing but its picture), so its texture comes back under guidance.
            update: dict[str, Any] = {"gen": ""}
            if job.plan.ops[0].op == "variation" and "alpha" not in job.plan.knobs.model_fields_set:
                # a variation redraws details, not the scene: less noise than an edit's default
                update["knobs"] = job.plan.knobs.model_copy(update={"alpha": VARIATION_ALPHA})
            job.plan = job.plan.model_copy(update=update)
        if self.edit is not None:
            job.images = {**job.images, base: Image.fromarray(self.edit.image)}

    def provenance(self) -> dict[str, Any]:
        return {"op_edits": self.edit.done} if self.edit is not None else {}


def _painted(job: RenderJob) -> Painted | None:
    """The region the model's blob layers condition a blob on, when it is not the ellipse."""
    from anypix.models.blob import painted_regions

    masks = painted_regions(job.components.unet)
    if masks is None:
        return None

    def painted(blob: Blob, width: int, height: int) -> np.ndarray:
        return np.asarray(masks([blob], height, width)[0].cpu().numpy(), dtype=bool)

    return painted


class KeepEdited(KeepOutside):
    """Keep-outside over the pixels :class:`PrepareBase` says the ops redraw: fresh noise where
    something new appears, the filled [base] part noised (``EMPTY_ALPHA``) where an object was
    taken out, and the prepared [base] pasted outside the redrawn pixels after decoding."""

    def __init__(self, prepared: PrepareBase) -> None:
        super().__init__()
        self.prepared = prepared
        self.fallbacks: list[str] = []
        self.held: torch.Tensor | None = None  # (1, 1, h, w): cells held to the [base] early

    def prepare(self, job: RenderJob) -> None:
        from anypix.tools.invert import blend_start_latents

        edit = self.prepared.edit
        if edit is None:  # the blobs do not pair with the ops: the plain keep-outside edit
            super().prepare(job)
            return
        assert job.base is not None and job.start is not None
        self.trajectory = job.base
        self.inside = self._cells(job, edit.region)
        fresh = self._cells(job, edit.fresh)
        emptied = self._cells(job, np.any(edit.empty, axis=0) if edit.empty else edit.fresh)
        empty_start = blend_start_latents(job.base.noisiest, job.noise(), EMPTY_ALPHA)
        start = emptied * empty_start + (1 - emptied) * job.start
        job.start = fresh * job.noise() + (1 - fresh) * start
        self.fresh_inside = bool(edit.fresh.any())
        if edit.held is not None:
            self.held = self._cells(job, edit.held)
        if edit.restyled is not None and job.plan.style_ref is not None:
            reference = job.invert(job.images[job.plan.style_ref], "")
            restyled = self._cells(job, edit.restyled)
            styled_start = blend_start_latents(reference.noisiest, job.noise(), RESTYLE_ALPHA)
            job.start = restyled * styled_start + (1 - restyled) * job.start

    def before_step(self, i: int, n: int, latents: torch.Tensor) -> torch.Tensor:
        import torch

        latents = super().before_step(i, n, latents)
        if self.held is None or i >= round(VARIATION_HOLD * n):
            return latents
        assert self.trajectory is not None
        target, source = latents[self.rows :], self.trajectory.before_step(i).to(latents.dtype)
        held = self.held.to(latents.dtype)
        return torch.cat([latents[: self.rows], held * source + (1 - held) * target])

    @staticmethod
    def _cells(job: RenderJob, pixels: np.ndarray) -> torch.Tensor:
        """(1, 1, h, w) float: 1 on every latent cell any pixel of ``pixels`` touches."""
        import torch
        import torch.nn.functional as F

        assert job.base is not None
        mask = torch.from_numpy(pixels)[None, None].float()
        cells = F.adaptive_max_pool2d(mask, tuple(job.base.noisiest.shape[-2:]))
        return (cells > 0).float().to(job.components.device, job.components.dtype)

    def finish_images(self, images: list[Image.Image]) -> list[Image.Image]:
        from PIL import Image

        edit = self.prepared.edit
        if edit is None:
            return images
        kept = []
        for image in images:
            drawn = np.asarray(image.convert("RGB")).copy()
            outside = ~edit.region
            drawn[outside] = edit.image[outside]
            for shape, inside in edit.recolored:
                colour = drawn_colour(drawn, edit.image, shape, inside)
                drawn[inside] = edit.image[inside]
                drawn[shape] = recolour(edit.image, shape, colour)
                rim, pixels = recolour_rim(edit.image, shape, colour, inside)
                drawn[rim] = pixels
            for hole in edit.empty:
                if not hole.any():  # all of it is a new object's place
                    continue
                apart = np.abs(drawn[hole].astype(float) - edit.image[hole])
                strayed, far = apart.mean(), (apart.max(-1) > STANDS_OUT).mean()
                # The model drew something (all over, or a ghost of the object in part of the
                # hole): keep the fill.
                if strayed > EMPTY_TOLERANCE or far > EMPTY_FAR_SHARE:
                    drawn[hole] = edit.image[hole]
                    self.fallbacks.append(f"empty region redrawn {strayed:.0f} from the fill "
                                          f"({far:.0%} of it far off): the fill kept")  # fmt: skip
            kept.append(Image.fromarray(drawn))
        return kept

    def provenance(self) -> dict[str, Any]:
        kept = super().provenance()
        if self.prepared.edit is not None:
            kept["keep_outside_regions"] = "outside the pixels the ops redraw, pixel for pixel"
            kept["empty_start"] = f"filled base, alpha={EMPTY_ALPHA}"
        if self.fallbacks:
            kept["empty_fallbacks"] = list(self.fallbacks)
        return kept


def base_techniques(plan: EditPlan) -> tuple[Technique, Technique]:
    """The two techniques of a local edit of a [base]: one before its inversion, one after."""
    prepared = PrepareBase()
    return prepared, KeepEdited(prepared)
