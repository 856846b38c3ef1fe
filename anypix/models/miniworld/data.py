"""The miniworld: a deterministic, seeded procedural world of shapes on styled backgrounds.

Every scene is fully described by a :class:`Scene` (background style, objects with colour, shape,
size and an exact BlobGEN blob), so models trained on it can be *measured*: a generated object can
be segmented by colour and compared with the blob that was asked for. Sounds are short tones whose
pitch encodes a colour and whose timbre encodes a shape, so "add [tone] to [scene]" means something.

Scenes are drawn with numpy at any size (64 by default) with hard edges: a pixel belongs to an
object when its centre is inside the shape, the same test as :meth:`anypix.plan.Blob.mask`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from anypix.plan import Blob

# Saturated object colours, far apart in RGB so a generated object can be classified by colour.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 40),
    "green": (40, 170, 60),
    "cyan": (30, 200, 210),
    "blue": (40, 70, 220),
    "purple": (140, 50, 200),
    "pink": (250, 120, 190),
}
SHAPES = ("ellipse", "rectangle", "triangle", "ring")
TEXTURES = ("flat", "gradient", "stripes", "dots", "checker", "noise")
# Background palettes are desaturated (low chroma) so objects stand out from every background.
PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "warm": ((236, 222, 200), (170, 140, 115)),
    "cool": ((205, 220, 232), (95, 115, 140)),
    "earth": ((190, 180, 150), (100, 95, 75)),
    "night": ((60, 62, 80), (25, 25, 35)),
    "mono": ((235, 235, 235), (120, 120, 120)),
    "sand": ((225, 210, 170), (200, 185, 150)),
}
SIZES = {"small": (0.10, 0.16), "medium": (0.16, 0.24), "large": (0.24, 0.34)}
# Tone pitch per colour (a C-major-ish ladder) and harmonic profile per shape.
PITCH_HZ = dict(zip(COLOURS, (262.0, 294.0, 330.0, 349.0, 392.0, 440.0, 494.0, 523.0), strict=True))
TIMBRE = {
    "ellipse": (1.0,),  # pure sine
    "rectangle": (1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7),  # odd harmonics: square-ish
    "triangle": (1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6),  # all harmonics: saw-ish
    "ring": (1.0, 0.0, 0.0, 0.8),  # fundamental + bright 4th: bell-ish
}
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Style:
    palette: str
    texture: str
    # texture parameters, drawn from the scene's seed
    angle: float = 0.0  # gradient / stripe direction, degrees
    period: float = 0.25  # stripe / dot / checker period, fraction of the canvas

    def describe(self) -> str:
        return (
            f"{self.palette} {self.texture}" if self.texture != "flat" else f"flat {self.palette}"
        )


@dataclass(frozen=True)
class MiniObject:
    colour: str
    shape: str
    size: str
    blob: Blob

    def sentence(self) -> str:
        return f"a {self.size} {self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    seed: int
    style: Style
    objects: tuple[MiniObject, ...] = field(default_factory=tuple)

    def caption(self) -> str:
        if not self.objects:
            return f"an empty scene on {self.style.describe()}"
        names = [o.sentence() for o in self.objects]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{listed} on {self.style.describe()}"


# -- sampling --------------------------------------------------------------------------------------


def random_style(rng: np.random.Generator) -> Style:
    return Style(
        palette=str(rng.choice(list(PALETTES))),
        texture=str(rng.choice(TEXTURES)),
        angle=float(rng.uniform(0, 180)),
        period=float(rng.uniform(0.15, 0.35)),
    )


def random_object(
    rng: np.random.Generator, colour: str | None = None, shape: str | None = None
) -> MiniObject:
    colour = colour or str(rng.choice(list(COLOURS)))
    shape = shape or str(rng.choice(SHAPES))
    size = str(rng.choice(list(SIZES)))
    a = float(rng.uniform(*SIZES[size]))
    b = a * float(rng.uniform(0.5, 1.0))
    margin = 0.5 * a
    blob = Blob(
        description=f"a {size} {colour} {shape}",
        label=shape,
        cx=float(rng.uniform(margin, 1 - margin)),
        cy=float(rng.uniform(margin, 1 - margin)),
        a=a,
        b=b,
        angle=float(rng.uniform(0, 180)),
    )
    return MiniObject(colour=colour, shape=shape, size=size, blob=blob)


def random_scene(
    seed: int, max_objects: int = 5, min_objects: int = 0, max_overlap: float = 0.25
) -> Scene:
    """A scene drawn from ``seed`` alone: the same seed always gives the same scene.

    Colours are distinct within a scene (so objects can be segmented by colour), and each object
    is re-drawn (a few tries) until at most ``max_overlap`` of its blob covers earlier blobs."""
    rng = np.random.default_rng(seed)
    style = random_style(rng)
    count = int(rng.integers(min_objects, max_objects + 1))
    colours = [str(c) for c in rng.permutation(list(COLOURS))[:count]]
    taken = np.zeros((32, 32), dtype=bool)
    objects = []
    for colour in colours:
        for _ in range(20):
            obj = random_object(rng, colour=colour)
            mask = obj.blob.mask(32, 32)
            if (mask & taken).sum() <= max_overlap * max(mask.sum(), 1):
                break
        taken |= mask
        objects.append(obj)
    return Scene(seed, style, tuple(objects))


# -- drawing ---------------------------------------------------------------------------------------


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    return (xs + 0.5) / size, (ys + 0.5) / size


def background(style: Style, size: int) -> np.ndarray:
    """(size, size, 3) float array in [0, 1]."""
    light, dark = (np.array(c, dtype=np.float64) / 255 for c in PALETTES[style.palette])
    x, y = _grid(size)
    t = math.radians(style.angle)
    along = x * math.cos(t) + y * math.sin(t)
    if style.texture == "flat":
        weight = np.zeros_like(x)
    elif style.texture == "gradient":
        weight = (along - along.min()) / max(np.ptp(along), 1e-9)
    elif style.texture == "stripes":
        weight = (np.floor(along / (style.period / 2)) % 2).astype(np.float64)
    elif style.texture == "dots":
        p = style.period / 1.5
        dx, dy = (x % p) - p / 2, (y % p) - p / 2
        weight = (np.hypot(dx, dy) < p * 0.28).astype(np.float64)
    elif style.texture == "checker":
        p = style.period / 2
        weight = ((np.floor(x / p) + np.floor(y / p)) % 2).astype(np.float64)
    elif style.texture == "noise":
        # smooth value noise from a seeded coarse grid, upsampled bilinearly
        rng = np.random.default_rng(int(style.angle * 1000) + int(style.period * 1e6))
        coarse = rng.random((5, 5))
        gx, gy = x * 4, y * 4
        x0, y0 = np.floor(gx).astype(int), np.floor(gy).astype(int)
        fx, fy = gx - x0, gy - y0
        weight = (
            coarse[y0, x0] * (1 - fx) * (1 - fy)
            + coarse[y0, x0 + 1] * fx * (1 - fy)
            + coarse[y0 + 1, x0] * (1 - fx) * fy
            + coarse[y0 + 1, x0 + 1] * fx * fy
        )
    else:
        raise ValueError(f"unknown texture {style.texture!r}")
    return light * (1 - weight[..., None]) + dark * weight[..., None]


def shape_mask(obj: MiniObject, size: int) -> np.ndarray:
    """Boolean (size, size) mask of the object's own shape, drawn inside its blob."""
    return shape_in_blob(obj.shape, obj.blob, size, size)


def shape_in_blob(shape: str, blob: Blob, width: int, height: int) -> np.ndarray:
    """Boolean (height, width) mask of ``shape`` drawn in ``blob`` on any canvas, in the blob's
    frame as :meth:`Blob.mask` measures it (radii are fractions of the shorter side)."""
    side = min(width, height)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dx = ((xs + 0.5) / width - blob.cx) * (width / side)  # x 1.0 on a square canvas: exact
    dy = ((ys + 0.5) / height - blob.cy) * (height / side)
    t = math.radians(blob.angle)
    u = (dx * math.cos(t) + dy * math.sin(t)) / blob.a
    v = (-dx * math.sin(t) + dy * math.cos(t)) / blob.b
    return _shape_in_frame(shape, u, v)


def _shape_in_frame(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The shape in its blob's frame (the ellipse is the unit circle, the major axis along u)."""
    if shape == "ellipse":
        return np.asarray(u**2 + v**2 <= 1)
    if shape == "ring":
        r2 = u**2 + v**2
        return np.asarray((r2 <= 1) & (r2 >= 0.5**2))
    if shape == "rectangle":
        side = math.sqrt(math.pi) / 2  # same area as the ellipse
        return np.asarray((np.abs(u) <= side) & (np.abs(v) <= side))
    if shape == "triangle":
        # isosceles, apex along +u, base at u = -0.6: spans the blob's major axis
        return np.asarray((u >= -0.6) & (u <= 1.0) & (np.abs(v) <= (1.0 - u) / 1.6 * 1.25))
    raise ValueError(f"unknown shape {shape!r}")


def render(scene: Scene, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (size, size, 3), object index map int8 (size, size), -1 = background).

    Objects are painted in order, so later ones occlude earlier ones."""
    image = background(scene.style, size)
    index = np.full((size, size), -1, dtype=np.int8)
    for i, obj in enumerate(scene.objects):
        mask = shape_mask(obj, size)
        image[mask] = np.array(COLOURS[obj.colour], dtype=np.float64) / 255
        index[mask] = i
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8), index


def classify_colour(pixels: np.ndarray) -> str:
    """The object colour nearest (in RGB) to the median of ``pixels`` (N, 3) uint8."""
    median = np.median(pixels.reshape(-1, 3).astype(np.float64), axis=0)
    names = list(COLOURS)
    table = np.array([COLOURS[n] for n in names], dtype=np.float64)
    return names[int(np.argmin(((table - median) ** 2).sum(axis=1)))]


def colour_mask(image: np.ndarray, colour: str, tolerance: float = 60.0) -> np.ndarray:
    """Pixels of ``image`` (H, W, 3 uint8) closer to ``colour`` than ``tolerance`` and closer to it
    than to any other object colour or the image's background."""
    pixels = image.astype(np.float64)
    target = np.array(COLOURS[colour], dtype=np.float64)
    dist = np.sqrt(((pixels - target) ** 2).sum(-1))
    others = [
        np.sqrt(((pixels - np.array(c, dtype=np.float64)) ** 2).sum(-1))
        for n, c in COLOURS.items()
        if n != colour
    ]
    return np.asarray((dist < tolerance) & (dist <= np.min(others, axis=0)))


# -- sounds ----------------------------------------------------------------------------------------


def tone(colour: str, shape: str = "ellipse", seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A mono float32 tone at :data:`SAMPLE_RATE`: pitch encodes ``colour``, timbre ``shape``.
    ``seed`` varies loudness, vibrato and a little noise without changing what it encodes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    vibrato = 1 + 0.004 * np.sin(2 * math.pi * rng.uniform(4, 7) * t)
    phase = 2 * math.pi * PITCH_HZ[colour] * np.cumsum(vibrato) / SAMPLE_RATE
    wave = sum(amp * np.sin((k + 1) * phase) for k, amp in enumerate(TIMBRE[shape]))
    attack = np.minimum(1.0, t / 0.02)
    decay = np.exp(-t * rng.uniform(0.5, 2.0))
    signal = np.asarray(wave) * attack * decay
    signal = signal / (np.abs(signal).max() + 1e-9) * rng.uniform(0.4, 0.9)
    signal = signal + rng.normal(0, 0.01, size=signal.shape)
    return signal.astype(np.float32)


def write_wav(path: str, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    import wave

    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())
