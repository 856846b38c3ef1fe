"""The miniworld's words: what its models were trained to read, and the synonyms people use.
Plain data, no torch: the scope check and the perception read them before any model loads."""

from __future__ import annotations

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


__all__ = ["FUNCTION_WORDS", "SYNONYMS", "named_shape", "vocabulary"]
