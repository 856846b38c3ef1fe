"""The miniworld's words: what its models were trained to read, and the synonyms people use.
Plain data, no torch: the scope check and the perception read them before any model loads."""

from __future__ import annotations

from collections.abc import Collection

from anypix.models.miniworld.data import COLOURS, PALETTES, SHAPES, SIZES, TEXTURES

# Words people use for miniworld things; captions are augmented with them during training.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "ellipse": ("ball", "circle", "disc", "oval"),
    "rectangle": ("box", "square", "block"),
    "triangle": ("wedge",),
    "ring": ("donut", "hoop"),
    "small": ("tiny", "little"),
    "large": ("big", "huge"),
    "purple": ("violet",),
}
FUNCTION_WORDS = (
    "a", "an", "the", "on", "and", "of", "in", "with", "to", "at", "empty", "scene", "flat",
    "object", "background", "left", "right", "top", "bottom", "middle", "center", "add",
)  # fmt: skip


def vocabulary() -> tuple[str, ...]:
    words = [*FUNCTION_WORDS, *COLOURS, *SHAPES, *SIZES, *TEXTURES, *PALETTES]
    words += [w for alternatives in SYNONYMS.values() for w in alternatives]
    return tuple(dict.fromkeys(words))


_SHAPE_WORDS = {word: shape for shape in SHAPES for word in (shape, *SYNONYMS.get(shape, ()))}


def named_shape(sentence: str) -> str | None:
    """The world shape a blob's sentence names ("a big red box" -> rectangle); None when it
    names none, or two ("background", "the reference", "a ring or a box")."""
    words = sentence.lower().replace(",", " ").split()
    named = {_SHAPE_WORDS[w] for w in words if w in _SHAPE_WORDS}
    return named.pop() if len(named) == 1 else None


_COLOUR_WORDS = frozenset([*COLOURS, *(w for c in COLOURS for w in SYNONYMS.get(c, ()))])


def _colours_in(sentence: str) -> set[str]:
    return {w for w in sentence.lower().replace(",", " ").split() if w in _COLOUR_WORDS}


def colourless(sentence: str) -> bool:
    """Whether a blob sentence names a shape but no colour ("a ring", "a small box")."""
    return named_shape(sentence) is not None and not _colours_in(sentence)


def coloured(sentences: list[str], seed: int, shown: Collection[str] = ()) -> list[str]:
    """Blob sentences the miniworld can draw: a :func:`colourless` one ("a ring") gets a colour,
    as every caption it was trained on had (without, it drew any shape: 0 rings of 8 seeds for
    "a ring on the left", 8 of 8 with "a purple ring"). Each such blob gets its own colour, from
    where ``seed`` points in the palette on, skipping the colours the other sentences name and,
    while others are left, those ``shown`` (the [base]'s objects'); the rest stay as they are."""
    taken = set().union(*map(_colours_in, sentences)) if sentences else set()
    if len(taken | set(shown)) < len(COLOURS):
        taken |= set(shown)
    palette = list(COLOURS)
    start = seed % len(palette)
    free = [c for c in palette[start:] + palette[:start] if c not in taken]
    out = []
    for sentence in sentences:
        if not colourless(sentence):
            out.append(sentence)
            continue
        colour = free.pop(0) if free else palette[(start + len(out)) % len(palette)]
        words = sentence.split()
        shape = named_shape(sentence)
        at = next(i for i, w in enumerate(words) if _SHAPE_WORDS.get(w.lower().strip(",")) == shape)
        out.append(" ".join([*words[:at], colour, *words[at:]]))  # "a orange ring": as trained
    return out


__all__ = ["FUNCTION_WORDS", "SYNONYMS", "coloured", "colourless", "named_shape", "vocabulary"]
