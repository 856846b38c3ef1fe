"""Find the object an edit names in its [base], so "make the ring in [scene] green" changes the
ring and nothing else.

A recolour, removal or replacement that says no place has no blob, and without one the edit
redraws the whole image. :func:`locate` gives such a plan one blob per op, fitted around the
region of the [base] that best matches the op's object phrase:

1. candidates: connected regions of similar colour on a 64x64 copy of the base (region growing),
   neither specks nor background-sized;
2. each candidate, alone on the image's background colour, goes through the binding encoder's
   image tower, and the object phrase ("the red ring") through its text tower;
3. when the phrase names a shape (ring, triangle, rectangle, ellipse), each candidate's outline
   is read too (:func:`~anypix.models.masks.read_shape`: a hole, the moment invariant), and one
   that reads as the named shape gains ``SHAPE_BONUS``. The encoder alone misses rings (a ring
   cut open by another object reads to it as anything). One that reads as another shape loses
   nothing: an object half hidden behind another often reads as another shape;
4. the best candidate wins if it beats the empty background by ``MARGIN``; its holes are filled
   and the ellipse with the same second moments, grown by ``GROW``, becomes the blob.
5. when the phrase names a shape and no colour ("remove the ring") and another candidate within
   ``AMBIGUOUS`` of the best is that shape too (its outline reads so, and so does the encoder),
   a place in the phrase picks among them ("the ring on the left", "the top ring"); without one,
   if they differ in colour, the locator asks which (:class:`~anypix.errors.ClarificationNeeded`,
   each choice named by its colour and place: "the red ring on the left"). It does not guess.

The blob says what the region holds afterwards ("a green ring"; for a removal, the background).

A phrase that names several objects ("all the rings", "both red ones", "every triangle", "the
rings"; "everything" for a removal) becomes one op on each of them (:meth:`Locator.find_each`),
named by its colour and place ("remove the red ring on the left") and checked on its own: every
object that is not a piece of another, of the colour and shape the phrase names (its outline read
first, else the encoder's best words for it).

An add that says no place ("add a ring") gets a blob too, in the picture's emptiest spot
(:func:`free_spot`): the centre farthest from every object and from the border, with a radius that
fits there (between ``ROOM``'s bounds). Without one, the add would redraw the whole picture.
An add said by an object the picture has ("a ring to the left of the triangle", "next to", "above",
"under") gets that spot on that side of the object, nearest it among the roomy ones.

A plan that already has blobs or boxes, or no [base], comes back unchanged. An object that is not
there raises :class:`~anypix.errors.NotFoundError`, which tells the person to say where it is.

The grounding model is a binding encoder (image and text towers in one space, with
``embed_pixels`` and ``embed_texts``), the one a preset's capabilities name
(:func:`anypix.tools.preset.default_locator`), so it knows that model's world; photos need a
preset with a real open-vocabulary detector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anypix.errors import ClarificationNeeded, NotFoundError
from anypix.lexicon import (
    LOCATED_OPS,
    PLACED_OPS,
    color_split,
    lexicon,
    needs_location,
    object_phrase,
    place_axes,
)
from anypix.models.masks import (
    SHAPE_NAMES,
    candidate_regions,
    fill_holes,
    objects_mask,
    piece_of,
    read_shape,
    shape_agreement,
)
from anypix.plan import Blob, EditPlan, Op

__all__ = ["Found", "Locator", "fill_holes", "free_spot", "needs_location", "object_phrase",
           "outcome", "place_words", "split_place"]

SIDE = 64  # the grounding copy's size (the binding encoder's input)
MARGIN = 0.1  # cosine the winner must gain over the empty background
GROW = 1.15  # the blob is this much larger than the region's moment ellipse
SHAPE_BONUS = 0.3  # cosine added to a candidate whose outline reads as the shape named
AMBIGUOUS = 0.3  # a candidate of the shape named this close to the best one's gain is one too
PIECE = 0.1  # a region this much smaller than the best candidate is a piece, not an object
# An unplaced add's blob radius, as a share of the shorter side: at least (a crowded picture still
# gets an object that can be drawn), at most (a placed add's size, "on the left": 0.22 x 0.18).
ROOM = (0.12, 0.2)
_ARTICLES = re.compile(r"^(?:the|a|an|this|that)\s+", re.IGNORECASE)
_PLACE = re.compile(
    r"\s+(?:to|towards?|into|onto|on|in|at|up|down|left|right|closer|further|farther|higher|"
    r"lower|next to|behind|in front of|over|under|a bit|a little|slightly)\b", re.IGNORECASE)
EMPTY = "background"  # what a removed object's blob says: the region shows the background
# "a ring to the left of the triangle": an add's place said by an object the picture has
_RELATIVE = re.compile(
    r"^(?P<what>.+?)\s+(?P<rel>(?:to|on|at) the (?:left|right)(?: hand side)? of|(?:left|right) of|"
    r"next to|beside|by|near|above|over|on top of|below|under|underneath|beneath)\s+"
    r"(?P<anchor>(?:the|that|this)\s+.+)$",
    re.IGNORECASE,
)
_SIDE_OF = {"left": "left", "right": "right", "above": "above", "over": "above", "top": "above",
            "below": "below", "under": "below", "underneath": "below", "beneath": "below"}  # fmt: skip
# px of the 64-px copy under which a region is a fleck: it is taken for the object only when no
# larger region fits the phrase (a 16-px fleck outscored a 640-px triangle for "the triangle";
# the world's smallest objects show about 40 px)
FLECK = 40
BESIDE_ROOM = 0.6  # share of the most room on that side a spot beside an object needs


@dataclass(frozen=True)
class Found:
    """Where an op's object was found: the blob, and how sure (cosine gain over background)."""

    op: Op
    phrase: str
    blob: Blob | None
    gain: float
    source: Op | None = None  # the op as planned, when it named several objects and this is one


def moved_object(target: str) -> str:
    """What a move's target moves: "the ring" of "the ring to the left"."""
    match = _PLACE.search(target)
    return target[: match.start()].strip() if match and match.start() > 0 else target


# where a move goes, said last: "the red ring on the left to the top"
_DESTINATION = re.compile(r"\s+(?:to|towards?|into|onto)\s+(?!.*\s(?:to|towards?|into|onto)\s).*$", re.IGNORECASE)  # fmt: skip


def _moving(target: str) -> tuple[str, str]:
    """(the object a move's target moves, where it goes): "the ring" and " to the left" of "the
    ring to the left"; "the red ring on the left" and " to the top" when the object is named by
    its place too (an answer to "which ring?")."""
    destination = _DESTINATION.search(target)
    if destination is not None and destination.start() > 0:
        head = target[: destination.start()].strip()
        words, where = split_place(head)
        if where and moved_object(words) == words.strip():
            return head, destination.group(0)
    phrase = moved_object(target)
    return phrase, target[len(phrase) :]


def outcome(op: Op, phrase: str) -> str:
    """The sentence the found blob carries: what the region holds after the edit."""
    noun = _ARTICLES.sub("", phrase)
    if op.op == "remove":
        return EMPTY
    if op.op == "replace":
        parts = re.split(r"\s+with\s+", op.target, maxsplit=1)
        return parts[1] if len(parts) == 2 else op.target
    split = color_split(op.target)
    colours = set(lexicon()["colors"])
    kept = [w for w in noun.split() if w.lower() not in colours]  # the old colour goes
    return f"a {split[1]} {' '.join(kept)}" if split else op.target


class Locator:
    """Grounds plans in their [base] with a binding encoder: ``encoder``, or the one
    ``load_encoder()`` gives on first use. ``words`` puts a phrase in the encoder's own words
    ("the big ball" -> "a large ellipse"); without it the phrase goes as it is, with one article."""

    def __init__(
        self,
        encoder: Any = None,
        *,
        load_encoder: Callable[[], Any] | None = None,
        words: Callable[[str], str] | None = None,
    ) -> None:
        if encoder is None and load_encoder is None:
            raise ValueError("a Locator needs an encoder or a function that loads one")
        self._encoder, self._load_encoder, self.words = encoder, load_encoder, words

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            assert self._load_encoder is not None
            self._encoder = self._load_encoder()
        return self._encoder

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any]) -> EditPlan:
        """``plan`` with a blob for every op's object, found in the [base] (a move gets two:
        where the object is, then where it goes); raises :class:`NotFoundError` for an object
        that is not there."""
        if not needs_location(plan):
            return plan
        assert plan.base is not None
        if plan.blobs:  # a move, its one blob the place it goes to
            return self.locate_move(plan, _image(assets[plan.base]))
        found = self.find_all(plan, _image(assets[plan.base]))
        for missing in (f for f in found if f.blob is None):
            raise NotFoundError(missing.phrase, plan.base)
        ops: list[Op] = []  # an op on several objects ("all the rings") becomes one op on each
        for op in plan.ops:
            ops.extend([f.op for f in found if f.source is op] or [op])
        return plan.model_copy(update={"ops": ops, "blobs": [f.blob for f in found]})

    def locate_move(self, plan: EditPlan, image: np.ndarray) -> EditPlan:
        """A move's two blobs: where its object is ("background" once it has gone) and the same
        ellipse centred on the place the plan's blob names, kept inside the canvas. A place that
        says one way only ("to the left", "to the top") keeps the object where it was the other
        way: it goes left at its own height."""
        (op,), (place,) = plan.ops, plan.blobs
        phrase, rest = _moving(op.target)
        if every_of(phrase, self._names_shape) is not None:  # a move takes one object
            each = [f.phrase for f in self.find_each(Op(op="remove", target=phrase), image)]
            if len(each) > 1:
                noun = phrase.split()[-1]
                raise ClarificationNeeded(
                    f"I move one object at a time: which of the {noun} first: "
                    + ", ".join(each[:-1]) + f" or {each[-1]}?", each)  # fmt: skip
            phrase = each[0] if each else phrase
        found = self.find(Op(op="move", target=phrase), image)
        if found.blob is None:
            raise NotFoundError(phrase, plan.base or "the image")
        height, width = image.shape[:2]
        box = found.blob.bbox(width, height)
        half_w, half_h = (box.x1 - box.x0) / 2, (box.y1 - box.y0) / 2
        across, up_down = place_axes(rest)
        if not (across or up_down):  # "next to the ring": the blob alone says where
            across = up_down = True
        cx = place.cx if across else found.blob.cx
        cy = place.cy if up_down else found.blob.cy
        words = _ARTICLES.sub("", split_place(phrase)[0])
        source = found.blob.model_copy(update={"description": EMPTY, "label": "was"})
        target = found.blob.model_copy(update={
            "description": f"a {words}", "label": "goes",
            "cx": min(max(cx, half_w), 1 - half_w), "cy": min(max(cy, half_h), 1 - half_h)})  # fmt: skip
        return plan.model_copy(update={"blobs": [source, target]})

    def find_all(self, plan: EditPlan, image: np.ndarray) -> list[Found]:
        """A Found for every op that needs a place, in the plan's order: the object a located op
        names, or a free spot for an add (each add's spot kept clear of the ones before it)."""
        found: list[Found] = []
        for op in plan.ops:
            if op.op in PLACED_OPS:
                taken = [f.blob for f in found if f.op.op in PLACED_OPS and f.blob is not None]
                found.append(self._placed_add(op, image, taken))
            elif op.op in LOCATED_OPS and every_of(object_phrase(op), self._names_shape) is not None:
                found.extend(self.find_each(op, image))
            elif op.op in LOCATED_OPS and object_phrase(op):
                found.append(self.find(op, image))
        return found

    def find_each(self, op: Op, image: np.ndarray) -> list[Found]:
        """Every object an op's plural phrase names ("all the rings", "both red ones",
        "everything"), left to right, each as its own op on one object named by its colour and
        place ("remove the red ring on the left"); one Found with no blob when none is there."""
        phrase = object_phrase(op)
        each = every_of(phrase, self._names_shape) or ""
        small = resize(image, SIDE)
        regions = candidate_regions(small)
        by_size = sorted(range(len(regions)), key=lambda i: -int(regions[i].sum()))
        objects = [i for i in _apart(by_size, regions, small) if regions[i].sum() >= FLECK]
        if not objects:
            return [Found(op, phrase, None, 0.0)]
        canonical = set(re.findall(r"[a-z]+", self._canonical(each).lower())) if each else set()
        named_colours, named_shapes = canonical & _COLOURS, canonical & set(SHAPE_NAMES)
        colours, shapes = self._describe(small, [regions[i] for i in objects])
        shapes = [read_shape(regions[i]) or shape for i, shape in zip(objects, shapes, strict=True)]
        chosen = [
            (i, colour, shape) for i, colour, shape in zip(objects, colours, shapes, strict=True)
            if (not named_colours or colour in named_colours)
            and (not named_shapes or shape in named_shapes)
        ]
        if not chosen:
            return [Found(op, each or phrase, None, 0.0)]
        chosen.sort(key=lambda c: _centre(regions[c[0]]))
        noun = _ARTICLES.sub("", each).split()[-1] if named_shapes else ""
        found = []
        for i, colour, shape in chosen:
            one = f"the {colour} {noun or shape} {place_words(_centre(regions[i]))}"
            target = op.target.replace(phrase, one, 1) if phrase in op.target else one
            if op.op == "replace":  # "both rings with triangles": each with a triangle
                old, _, new = target.partition(" with ")
                each_new = every_of(new, self._names_shape)
                if each_new:
                    target = f"{old} with a {_ARTICLES.sub('', each_new)}"
            each_op = op.model_copy(update={"target": target})
            blob = ellipse_of(fill_holes(regions[i]), outcome(each_op, one), image.shape[:2])
            found.append(Found(each_op, one, blob, 0.0, source=op))
        return found

    def _names_shape(self, word: str) -> bool:
        """Whether ``word`` names one of the world's shapes in the encoder's words ("circle")."""
        return bool(set(re.findall(r"[a-z]+", self._canonical(word).lower())) & set(SHAPE_NAMES))

    def _describe(
        self, small: np.ndarray, regions: list[np.ndarray]
    ) -> tuple[list[str], list[str]]:
        """The colour and the shape the encoder names each region alone on the background."""
        import torch

        images = self._embed_regions(small, regions)[:-1]
        colours, kinds = sorted(_COLOURS), sorted(SHAPE_NAMES)
        with torch.no_grad():
            pairs = [self._canonical(f"a {c} {k}") for c in colours for k in kinds]
            texts = self.encoder.embed_texts(pairs)
        best = (images @ texts.T).argmax(dim=1).tolist()
        return [colours[b // len(kinds)] for b in best], [kinds[b % len(kinds)] for b in best]

    def _placed_add(self, op: Op, image: np.ndarray, taken: list[Blob]) -> Found:
        """An add's blob: beside the object it is said to go by ("a ring to the left of the
        triangle": the roomiest spot on that side of the triangle, nearest it), else the
        picture's emptiest spot."""
        description = op.target or op.ref or "an object"
        relative = _RELATIVE.match(description)
        if relative is None:
            return Found(op, description, free_spot(image, description, taken), 0.0)
        what, anchor = relative.group("what"), relative.group("anchor")
        # the object it goes by ("which ring should I put a green ellipse by?" when two are)
        near = self.find(Op(op="move", target=anchor), image, verb=f"put {what} by")
        if near.blob is None:
            raise NotFoundError(anchor, "the image")
        words = relative.group("rel").lower().split()
        side = next((_SIDE_OF[word] for word in words if word in _SIDE_OF), None)
        return Found(op, what, free_spot(image, what, taken, beside=(near.blob, side)), 0.0)

    def find(self, op: Op, image: np.ndarray, verb: str | None = None) -> Found:
        """The region of ``image`` ((H, W, 3) uint8) that best matches the op's object; raises
        :class:`ClarificationNeeded` when several match it as well and no place says which
        ("which ring should I <verb>?", the op's own verb by default)."""
        phrase = object_phrase(op)
        words, where = split_place(phrase)
        small = resize(image, SIDE)
        regions = candidate_regions(small)
        if not regions:
            return Found(op, phrase, None, 0.0)
        images = self._embed_regions(small, regions)
        gains = self._gains(images, regions, words)
        best = int(np.argmax(gains))
        sizeable = [i for i, region in enumerate(regions) if region.sum() >= FLECK]
        if sizeable and max(gains[i] for i in sizeable) >= MARGIN:  # not a fleck beside it
            best = max(sizeable, key=lambda i: gains[i])
        if gains[best] < MARGIN:
            return Found(op, phrase, None, float(gains[best]))
        alike, colours = self._alike(words, small, regions, images, gains)
        if where and len(alike) > 1:  # "the ring on the left": the leftmost of the rings
            best = _placed(alike, [_centre(regions[i]) for i in alike], where)
        elif len({colours.get(i) for i in alike}) > 1:
            raise self._which(op, words, [regions[i] for i in alike], [colours[i] for i in alike],
                              verb)  # fmt: skip
        blob = ellipse_of(fill_holes(regions[best]), outcome(op, phrase), image.shape[:2])
        return Found(op, phrase, blob, float(gains[best]))

    def _embed_regions(self, small: np.ndarray, regions: list[np.ndarray]) -> Any:
        """The image tower's embedding of each region alone on the background colour, then of
        the empty background (the last row)."""
        import torch

        background = _background_colour(small, regions)
        views = [_alone(small, mask, background) for mask in regions]
        views.append(np.broadcast_to(background, small.shape))  # the empty background
        pixels = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        with torch.no_grad():
            return self.encoder.embed_pixels(pixels)

    def _gains(self, images: Any, regions: list[np.ndarray], phrase: str) -> np.ndarray:
        """How much better each region fits ``phrase`` than the empty background does."""
        import torch

        with torch.no_grad():
            text = self.encoder.embed_texts([self._canonical(phrase)])
        scores = (images @ text.T).squeeze(1).cpu().numpy()
        bonus = shape_agreement(regions, self._canonical(phrase), SHAPE_BONUS)
        return scores[:-1] - scores[-1] + bonus

    def _alike(
        self, words: str, small: np.ndarray, regions: list[np.ndarray], images: Any,
        gains: np.ndarray,
    ) -> tuple[list[int], dict[int, str]]:  # fmt: skip
        """The candidates the phrase fits as well as the best one, when it names a shape and no
        colour: within ``AMBIGUOUS`` of the best gain, not a piece of another (:func:`_apart`),
        and that shape both by outline (:func:`~anypix.models.masks.read_shape`) and by the
        encoder; with each one's colour
        (the encoder's best colour word for it). Just the best otherwise."""
        import torch

        best = int(np.argmax(gains))
        canonical = self._canonical(words).lower()
        shapes = [w for w in re.findall(r"[a-z]+", canonical) if w in SHAPE_NAMES]
        if not shapes or set(re.findall(r"[a-z]+", canonical)) & _COLOURS:
            return [best], {}
        shape, noun = shapes[-1], _ARTICLES.sub("", words)
        near = [i for i in np.argsort(-gains) if gains[i] >= max(MARGIN, gains[best] - AMBIGUOUS)]
        near = [int(i) for i in near if read_shape(regions[i]) == shape]
        near = _apart(near, regions, small)
        if len(near) < 2:
            return [best], {}
        colours, kinds = sorted(_COLOURS), sorted(SHAPE_NAMES)
        with torch.no_grad():
            hues = self.encoder.embed_texts([self._canonical(f"a {c} {noun}") for c in colours])
            named = {
                i: colours[k]
                for i, k in zip(near, (images[near] @ hues.T).argmax(dim=1).tolist(), strict=True)
            }
            forms = self.encoder.embed_texts(
                [self._canonical(f"a {named[i]} {k}") for i in near for k in kinds]
            )
        fits = (images[near] @ forms.T).reshape(len(near), len(near), len(kinds))
        alike = [i for n, i in enumerate(near) if kinds[int(fits[n, n].argmax())] == shape]
        return alike, named

    def _canonical(self, phrase: str) -> str:
        if self.words is not None:
            return self.words(phrase)
        return "a " + _ARTICLES.sub("", phrase).lower()

    def _which(
        self, op: Op, words: str, regions: list[np.ndarray], colours: list[str],
        verb: str | None = None,
    ) -> ClarificationNeeded:  # fmt: skip
        """The question "which one?", each candidate named by its colour and its place."""
        noun = _ARTICLES.sub("", words)  # it names no colour (else it would not be asked)
        choices = [f"the {colour} {noun} {place_words(_centre(region))}"
                   for colour, region in zip(colours, regions, strict=True)]  # fmt: skip
        if len(set(choices)) < len(choices):  # two alike in words: say where exactly
            choices = [f"{c} (at {x:.2f}, {y:.2f})" for c, (x, y) in
                       zip(choices, map(_centre, regions), strict=True)]  # fmt: skip
        verb = verb or {"recolor": "recolour"}.get(op.op, op.op)
        listed = ", ".join(choices[:-1]) + " or " + choices[-1]
        return ClarificationNeeded(f"Which {noun} should I {verb}: {listed}?", choices)


# -- regions ---------------------------------------------------------------------------------------
def ellipse_of(
    mask: np.ndarray, description: str, canvas: tuple[int, int] | None = None, grow: float = GROW
) -> Blob:
    """The blob with the region's centre and second moments (a filled ellipse of semi-axes a, b
    has variances a²/4 and b²/4 along them), grown by ``grow``, on a ``canvas`` of (height,
    width) pixels that ``mask`` was shrunk from (default: the mask's own)."""
    height, width = canvas or mask.shape
    side = min(height, width)
    ys, xs = np.nonzero(mask)
    x = (xs + 0.5) * width / mask.shape[1]
    y = (ys + 0.5) * height / mask.shape[0]
    cx, cy = float(x.mean()), float(y.mean())
    covariance = np.cov(np.stack([x - cx, y - cy])) if len(x) > 1 else np.eye(2) * 0.25
    pixel = np.diag([width / mask.shape[1], height / mask.shape[0]]) ** 2 / 12  # a pixel's extent
    values, vectors = np.linalg.eigh(covariance + pixel)
    a, b = (2 * math.sqrt(max(v, 1e-6)) * grow / side for v in values[::-1])
    angle = math.degrees(math.atan2(vectors[1, 1], vectors[0, 1]))  # the major axis
    return Blob(description=description, cx=cx / width, cy=cy / height,
                a=min(a, 2.0), b=min(b, 2.0), angle=angle % 180.0)  # fmt: skip


def found_iou(found: Found, truth: np.ndarray) -> float:
    """IoU of the found blob with the true mask (0 when nothing was found)."""
    if found.blob is None:
        return 0.0
    mask = found.blob.mask(truth.shape[1], truth.shape[0])
    return float((mask & truth).sum() / max(1, (mask | truth).sum()))


# -- places ----------------------------------------------------------------------------------------
_COLOURS = frozenset(lexicon()["colors"])
_SIDES = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "upper": (0, -1), "bottom": (0, 1),
          "lower": (0, 1)}  # fmt: skip
_PLACE_IN_PHRASE = re.compile(
    r"\s+(?:on|at|in|to|near)\s+the\s+((?:(?:top|bottom|upper|lower|far)\s+)?(?:left|right|top|bottom|middle|"
    r"centre|center))(?:[\s-]+(?:side|corner|edge|hand[\s-]+side))?\b|"
    r"\b((?:(?:top|bottom|upper|lower)[\s-]+)?(?:left|right|top|bottom|upper|lower|middle|centre|center)"
    r"(?:most)?)\s+(?=\w)", re.IGNORECASE)  # fmt: skip


def split_place(phrase: str) -> tuple[str, str]:
    """ "the ring on the left" -> ("the ring", "left"); "the top left star" -> ("the star", "top
    left"); a phrase that says no place -> (phrase, "")."""
    match = _PLACE_IN_PHRASE.search(phrase)
    if match is None:
        return phrase, ""
    where = (match.group(1) or match.group(2)).lower().replace("-", " ").replace("most", "")
    rest = phrase[: match.start()] + " " + phrase[match.end() :]
    return re.sub(r"\s+", " ", rest).strip(), where.strip()


def _apart(indices: list[int], regions: list[np.ndarray], image: np.ndarray) -> list[int]:
    """Of ``indices`` (best first), those that can be objects of their own: a region under
    ``PIECE`` of the first one's area, or a :func:`~anypix.models.masks.piece_of` one kept
    before it, is a piece of an object (a model's object drawn in two greens is two
    regions); two objects of a scene differ in colour."""
    kept: list[int] = []
    for i in indices:
        big = not kept or regions[i].sum() >= PIECE * regions[kept[0]].sum()
        if big and not any(piece_of(image, regions[i], regions[k]) for k in kept):
            kept.append(i)
    return kept


# "all the rings", "every ring", "both of the red ones", "the two rings", "the rings": several
_EVERY = re.compile(
    r"^(?:(?:all|both|each|every|any)(?:\s+(?:single|one))?(?:\s+of)?(?:\s+(?:the|these|those|its|my))?"
    r"|(?:the|these|those)(?:\s+(?:two|three|four|five|several))?|two|three|four|five)\s+", re.IGNORECASE)  # fmt: skip
_QUANTIFIED = re.compile(r"^(?:all|both|each|every|any|two|three|four|five)\b|^\w+\s+(?:two|three|four|five|several)\b", re.IGNORECASE)  # fmt: skip
# "everything", "all of them", "every shape", "all the stuff in the picture": every object
_EVERYTHING = re.compile(
    r"^(?:everything|all of them|them all|all(?:\s+of)?(?:\s+the)?\s+(?:objects?|shapes?|things?|stuff)|(?:every|each)\s+"
    r"(?:object|shape|thing)|the\s+(?:objects|shapes|things))(?:\s+(?:in|on|from)\s+(?:it|here|the\s+"
    r"(?:picture|image|photo|scene|pic)))?$", re.IGNORECASE)  # fmt: skip


def every_of(phrase: str, names_shape: Callable[[str], bool]) -> str | None:
    """What a phrase naming several objects names each of: "the ring" of "all the rings" or
    "every ring", "the red ring" of "both red rings", "" of "everything" (any object); None
    for a phrase naming one ("the ring", "the glasses"). ``names_shape`` tells whether a word
    names one of the world's shapes ("circle": yes), so "the rings" is several and "the
    glasses" (which may be one thing) is not."""
    phrase = phrase.strip()
    if _EVERYTHING.match(phrase):
        return ""
    match = _EVERY.match(phrase)
    rest = phrase[match.end() :].split() if match else phrase.split()  # "rings"
    if not rest:
        return None
    last = rest[-1].lower()
    stem = last[:-2] if last.endswith(("xes", "ches", "shes")) else last[:-1]
    if last in ("ones", "objects", "shapes", "things"):  # "all red ones": any shape
        words = rest[:-1]
    elif last.endswith("s") and not last.endswith("ss") and names_shape(stem):
        words = [*rest[:-1], stem]
    elif _QUANTIFIED.match(phrase) and names_shape(last):  # "every ring"
        words = rest
    else:
        return None  # "the ring", "the glasses"
    return " ".join(["the", *words]) if words else ""


def _centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return (float(xs.mean()) + 0.5) / mask.shape[1], (float(ys.mean()) + 0.5) / mask.shape[0]


def _placed(indices: list[int], centres: list[tuple[float, float]], where: str) -> int:
    """Of ``indices``, the one whose centre lies furthest towards ``where`` ("left", "top
    right"; "middle": nearest the centre)."""
    dx = sum(_SIDES[w][0] for w in where.split() if w in _SIDES)
    dy = sum(_SIDES[w][1] for w in where.split() if w in _SIDES)
    if not (dx or dy):
        reach = [-math.hypot(x - 0.5, y - 0.5) for x, y in centres]
    else:
        reach = [dx * x + dy * y for x, y in centres]
    return indices[int(np.argmax(reach))]


def place_words(centre: tuple[float, float]) -> str:
    """Where a centre is, in a person's words: "on the left", "at the top right", "in the middle"."""
    x, y = centre
    across = "left" if x < 0.4 else "right" if x > 0.6 else ""
    up_down = "top" if y < 0.4 else "bottom" if y > 0.6 else ""
    if not (across or up_down):
        return "in the middle"
    if across and not up_down:
        return f"on the {across}"
    return f"at the {' '.join(w for w in (up_down, across) if w)}"


# -- helpers ---------------------------------------------------------------------------------------
def _background_colour(image: np.ndarray, regions: list[np.ndarray]) -> np.ndarray:
    """The median colour of the pixels no candidate covers."""
    rest = ~np.any(np.stack(regions), axis=0)
    pixels = image[rest] if rest.any() else image.reshape(-1, 3)
    return np.median(pixels, axis=0).astype(np.uint8)


def _alone(image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], image, background).astype(np.uint8)


def free_spot(
    image: np.ndarray, description: str, taken: list[Blob] | None = None,
    beside: tuple[Blob, str | None] | None = None,
) -> Blob:  # fmt: skip
    """A round blob saying ``description`` in the emptiest spot of ``image`` ((H, W, 3) uint8):
    the centre farthest from every object (:func:`~anypix.models.masks.objects_mask`), every
    ``taken`` blob and the border, nearest the middle among near-equals; its radius is most of
    that clearance, within ``ROOM``. ``beside`` (an object's blob and a side: "left", "right",
    "above", "below", or None for either side across) keeps the centre on that side of the
    object, and takes the spot nearest it among those with room (``BESIDE_ROOM`` of the most);
    against the canvas's edge that way, the roomiest spot past its centre."""
    height, width = image.shape[:2]
    occupied = fill_holes(objects_mask(resize(image, SIDE)))  # not in a ring's hole
    for blob in taken or []:
        occupied |= blob.mask(SIDE, SIDE)
    side = min(height, width)
    scale = np.array([width / SIDE / side, height / SIDE / side])  # a grid cell, in shorter sides
    ys, xs = np.mgrid[1:SIDE:2, 1:SIDE:2]  # every other pixel corner of the copy
    centres = np.stack([xs.ravel(), ys.ravel()], axis=1) * scale  # (x, y)
    span = np.array([width, height]) / side
    clearance = np.minimum(centres, span - centres).min(1)  # to the border
    objects = (np.argwhere(occupied)[:, ::-1] + 0.5) * scale
    if len(objects):
        gaps = np.sqrt(((centres[:, None, :] - objects[None]) ** 2).sum(-1)).min(1)
        clearance = np.minimum(clearance, gaps)
    if beside is not None:
        anchor, side = beside
        on_side = _on_side(centres / span, anchor, side, (width, height))
        cramped = not on_side.any()  # no room past its edge: it is against the canvas's
        if cramped:
            on_side = _on_side(centres / span, anchor, side, (width, height), past_edge=False)
        outside = on_side & ~anchor.mask(SIDE, SIDE)[ys.ravel(), xs.ravel()]
        on_side = outside if outside.any() else on_side  # not in its ellipse (a ring's hole) if it can
        if on_side.any():
            clearance = np.where(on_side, clearance, -1.0)
            near = np.linalg.norm(centres / span - [anchor.cx, anchor.cy], axis=1)
            roomy = clearance >= BESIDE_ROOM * clearance.max()
            # cramped, the roomiest spot that way (the nearest one was in a ring's hole)
            best = int(np.argmax(clearance) if cramped else np.argmin(np.where(roomy, near, np.inf)))
            radius = float(np.clip(0.85 * clearance[best], *ROOM))
            (x, y) = centres[best] / span
            return Blob(description=description, cx=float(x), cy=float(y), a=radius, b=radius,
                        angle=0.0)  # fmt: skip
    middle = np.linalg.norm(centres - span / 2, axis=1)
    best = int(np.argmin(np.where(clearance >= 0.95 * clearance.max(), middle, np.inf)))
    radius = float(np.clip(0.85 * clearance[best], *ROOM))
    (x, y) = centres[best] / span
    return Blob(description=description, cx=float(x), cy=float(y), a=radius, b=radius, angle=0.0)


def _on_side(
    centres: np.ndarray, anchor: Blob, side: str | None, canvas: tuple[int, int],
    *, past_edge: bool = True,
) -> np.ndarray:  # fmt: skip
    """Which of ``centres`` ((N, 2) x, y as fractions of the (width, height) ``canvas``) lie on
    ``side`` of ``anchor``'s blob: further that way from its centre than across, and past its
    box's edge that way (or only past its centre, with ``past_edge`` off)."""
    box = anchor.bbox(*canvas)
    x0, y0, x1, y1 = (box.x0, box.y0, box.x1, box.y1) if past_edge else (anchor.cx, anchor.cy) * 2
    x, y = centres[:, 0], centres[:, 1]
    dx, dy = x - anchor.cx, y - anchor.cy
    sides = {"left": (-dx > np.abs(dy)) & (x < x0), "right": (dx > np.abs(dy)) & (x > x1),
             "above": (-dy > np.abs(dx)) & (y < y0), "below": (dy > np.abs(dx)) & (y > y1)}  # fmt: skip
    return sides[side] if side is not None else sides["left"] | sides["right"]


def resize(image: np.ndarray, side: int) -> np.ndarray:
    if image.shape[:2] == (side, side):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BOX))


def _image(asset: Any) -> np.ndarray:
    from PIL import Image

    picture = asset if isinstance(asset, Image.Image) else Image.open(Path(asset))
    return np.asarray(picture.convert("RGB"))
