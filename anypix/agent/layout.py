"""Layout solving: blobs for a scene graph (:mod:`anypix.agent.scene`) that keep its counts and
relations.

"three balloons over a boy" -> objects {balloon x3, boy x1}, relation (balloon above boy) ->
three blobs in a band above one blob. The solver orders objects along x by left/right/between/
next-to relations and canvas regions ("on the left"), along y by above/below, gives each object
an equal share of its row or column ("prefer objects to be large", as BlobGEN's prompt asks) and
spreads repeated objects across their share in a near-square grid (a row for "in a row", a
column for "stacked"); an object *inside* another ("a star in a ring") is drawn smaller at its
container's centre, objects *around* another ("six chairs around a table") on a ring about it. It is exact about counts and relations by construction,
and refuses what no layout can satisfy (a star above a moon above the star, more objects than
blobs can hold) with a :class:`LayoutError` that says why. The LLM path (BlobGEN's CSS prompt,
see ``planner.py``) is measured against it in ``benchmarks/planner.py``.
"""

from __future__ import annotations

import math
import re

from anypix.agent.scene import REGION_WORDS, REGIONS, SceneGraph, SceneObject, scene_graph, singular
from anypix.errors import LayoutError
from anypix.plan import Blob

__all__ = [
    "MAX_BLOBS",
    "REGION_WORDS",
    "place_blob",
    "place_blobs",
    "scene_blobs",
    "scene_graph",
    "singular",
    "solve",
    "spread_blob",
]

MAX_BLOBS = 32  # more objects than this are a texture or a crowd, not a blob layout
_HUB = 0.4  # an object with others around it keeps this much of its size, to leave them room
# A blob's radius along an axis is this share of its cell's side: 0.46 alone, and where several
# of one object sit side by side along it, less, so that a shape drawn past its ellipse (a
# rectangle's corners, a triangle's base: up to 1.25 radii) does not close the gap between
# them. At 0.46 "three yellow triangles" were drawn as one yellow crown.
_FILL, _FILL_IN_A_ROW = 0.46, 0.36
_ELONGATION = 2.0  # nor longer than this many times as wide: an object, not a stripe


# -- solving ----------------------------------------------------------------------------------------


def _satellites(graph: SceneGraph, relation: str) -> dict[str, str]:
    """Object -> the object it is drawn at ("a star in a ring": inside; "rings around a star":
    around). An object inside one that is inside it is refused."""
    held: dict[str, str] = {}
    for a, rel, b, _ in graph.relations:
        if rel != relation or a == b or a in held:
            continue
        holder = b
        for _ in range(len(held) + 1):
            if holder == a:
                raise LayoutError(
                    f"the {_noun(graph, a)} and the {_noun(graph, b)} are each {relation} the other",
                    "say which one holds the other, e.g. 'a star in a ring'",
                )
            holder = held.get(holder, holder)
        held[a] = b
    return held


def _noun(graph: SceneGraph, key: str) -> str:
    found = graph.find(key)
    return found.noun if found is not None else key


def _orders(graph: SceneGraph, held: dict[str, str]) -> tuple[dict[str, int], dict[str, int]]:
    """Layer of each object along x (left to right) and y (top to bottom): longest paths. An
    object drawn at another (inside or around it) takes its place in every relation."""
    xs: list[tuple[str, str]] = []
    ys: list[tuple[str, str]] = []

    def outer(key: str) -> str:
        for _ in range(len(held) + 1):
            key = held.get(key, key)
        return key

    for a, rel, b, c in graph.relations:
        a, b = outer(a), outer(b)
        if rel in ("left_of", "next_to"):
            xs.append((a, b))
        elif rel == "right_of":
            xs.append((b, a))
        elif rel in ("above", "on", "in_front_of"):
            ys.append((a, b))
        elif rel in ("below", "behind"):
            ys.append((b, a))
        elif rel == "between" and c is not None and outer(c) != b:
            xs += [(b, a), (a, outer(c))]
    keys = [o.key for o in graph.objects if o.key not in held]
    names = {o.key: o.noun for o in graph.objects}
    return (
        _layers(keys, xs, "both left and right of", names),
        _layers(keys, ys, "both above and below", names),
    )


def _layers(
    keys: list[str], edges: list[tuple[str, str]], sides: str, names: dict[str, str]
) -> dict[str, int]:
    """Longest-path layers (Bellman-Ford style); a cycle ("a star above a moon and the moon
    above the star") is a contradiction, refused with the objects on it."""
    layer = dict.fromkeys(keys, 0)
    for a, b in edges:
        if a == b:
            raise LayoutError(
                f"the {names.get(a, a)} cannot be on one side of itself",
                "relate it to another object, e.g. 'a circle to the left of a square'",
            )
    edges = [(a, b) for a, b in edges if a in layer and b in layer]
    stretched = edges
    for _ in range(len(layer) + 1):  # a longest path has at most len(layer) - 1 edges
        stretched = [(a, b) for a, b in edges if layer[b] < layer[a] + 1]
        if not stretched:
            return layer
        for a, b in stretched:
            layer[b] = max(layer[b], layer[a] + 1)
    cycle = list(dict.fromkeys(names.get(k, k) for edge in stretched for k in edge))
    raise LayoutError(
        f"the description puts {' and '.join(f'the {n}' for n in cycle)} {sides} each other",
        "keep one order, e.g. 'a star above a moon' without 'the moon above the star'",
    )


def _side_by_side(graph: SceneGraph) -> SceneGraph:
    """Objects nothing places ("a cube and an umbrella") stand next to the object listed before
    them (below it for "from top to bottom"), instead of all filling the middle of the canvas."""
    related = {key for a, _, b, c in graph.relations for key in (a, b, c)}
    free = [o for o in graph.objects[1:] if o.key not in related and o.region == (None, None)]
    if not free:
        return graph
    order = [o.key for o in graph.objects]
    relation = "above" if graph.arrangement == "column" else "next_to"
    extra: list[tuple[str, str, str, str | None]] = [
        (order[order.index(o.key) - 1], relation, o.key, None) for o in free
    ]
    return SceneGraph(graph.objects, graph.relations + extra, graph.arrangement)


def solve(graph: SceneGraph) -> list[Blob]:
    """Blobs for every object instance: counts exact, relations kept, objects as large as fit."""
    total = sum(o.count for o in graph.objects)
    if total > MAX_BLOBS:
        raise LayoutError(
            f"{total} objects are too many to lay out one blob each (at most {MAX_BLOBS})",
            "ask for fewer, or describe them as a pattern, e.g. 'a sky full of stars'",
        )
    graph = _side_by_side(graph)
    inner, around = _satellites(graph, "inside"), _satellites(graph, "around")
    held = {**around, **inner}
    x_layer, y_layer = _orders(graph, held)
    nx = max(x_layer.values(), default=0) + 1
    ny = max(y_layer.values(), default=0) + 1
    # "a tower between two houses": the tower takes the middle third, a house each outer third
    flanked = {a: b for a, rel, b, c in graph.relations if rel == "between" and b == c}
    placed: dict[str, list[Blob]] = {}
    for obj in graph.objects:
        if obj.key in held:
            continue
        x0, x1 = _span(x_layer[obj.key], nx, obj.region[0], _related(graph, obj.key, "x"))
        if obj.key in flanked:
            x0, x1 = 1 / 3, 2 / 3
        elif obj.key in flanked.values():
            x0, x1 = 0.0, 1.0
        y0, y1 = _span(y_layer[obj.key], ny, obj.region[1], _related(graph, obj.key, "y"))
        flanking = obj.key in flanked.values()
        placed[obj.key] = _spread(obj, (x0, y0, x1, y1), graph.arrangement, flanking)
    _place_held(graph, held, around, placed)
    return _labelled(graph, placed)


def _place_held(
    graph: SceneGraph, held: dict[str, str], around: dict[str, str], placed: dict[str, list[Blob]]
) -> None:
    """Objects inside or around another, holders first: inside at the holder's centre, around on
    a ring about the holder (which shrinks to leave them room)."""
    pending = [obj for obj in graph.objects if obj.key in held]
    shrunk: set[str] = set()
    while pending:
        ready = [obj for obj in pending if held[obj.key] in placed]
        if not ready:
            raise LayoutError(
                f"the {', '.join(o.noun for o in pending)} are each inside the other",
                "say which one holds the other, e.g. 'a star in a ring'",
            )
        for obj in ready:
            holder = held[obj.key]
            if obj.key in around:
                if holder not in shrunk:
                    placed[holder] = [_shrunk(b, _HUB) for b in placed[holder]]
                    shrunk.add(holder)
                placed[obj.key] = _around(obj, placed[holder][0])
            else:
                placed[obj.key] = _inside(obj, placed[holder][0])
            pending.remove(obj)


def _labelled(graph: SceneGraph, placed: dict[str, list[Blob]]) -> list[Blob]:
    """Blobs in the order objects were named, labelled "ball" or "ball1", "ball2"... across
    every object of that noun ("a red ball and a blue ball" are ball1 and ball2)."""
    totals: dict[str, int] = {}
    for obj in graph.objects:
        totals[obj.noun] = totals.get(obj.noun, 0) + obj.count
    seen: dict[str, int] = {}
    blobs = []
    for obj in graph.objects:
        for blob in placed[obj.key]:
            seen[obj.noun] = seen.get(obj.noun, 0) + 1
            label = obj.noun if totals[obj.noun] == 1 else f"{obj.noun}{seen[obj.noun]}"
            label = re.sub(r"[^A-Za-z0-9_\-]", "", label)[:32] or "object"
            blobs.append(blob.model_copy(update={"label": label}))
    return blobs


def _spread(
    obj: SceneObject, box: tuple[float, float, float, float], arrangement: str | None,
    flanking: bool,
) -> list[Blob]:  # fmt: skip
    """obj.count blobs spread over their share of the canvas, in a grid of cells as near square
    as the share allows (one row for "in a row", one column for "stacked")."""
    x0, y0, x1, y1 = box
    if arrangement == "column":
        cols = 1
    elif arrangement == "row":
        cols = obj.count
    else:
        cols = _squarest(obj.count, x1 - x0, y1 - y0)
    rows = -(-obj.count // cols)
    blobs = []
    for index in range(obj.count):
        col, row_index = index % cols, index // cols
        cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
        in_row = min(cols, obj.count - row_index * cols)  # a last row part full is centred
        cx, cy = x0 + cw * (col + 0.5 + (cols - in_row) / 2), y0 + ch * (row_index + 0.5)
        if flanking and obj.count == 2:
            cw, cx = 1 / 3, (1 / 6, 5 / 6)[index]
        rx = (_FILL_IN_A_ROW if cols > 1 else _FILL) * cw
        ry = (_FILL_IN_A_ROW if rows > 1 else _FILL) * ch
        b = min(rx, ry, 0.45)
        a = min(max(rx, ry), 0.45, _ELONGATION * b)
        blobs.append(_blob(obj, cx, cy, a, b, rx >= ry))
    return blobs


def _squarest(count: int, width: float, height: float) -> int:
    """The columns of the grid of ``count`` cells over ``width`` x ``height`` whose cells are
    nearest square (a row on a tie): two rings in the left half go one above the other, each in
    a cell 0.5 x 0.4, not side by side in cells 0.25 x 0.8 that make them ellipses twice as tall
    as wide."""

    def stretch(cols: int) -> float:
        ratio = (width / cols) / (height / -(-count // cols))
        return max(ratio, 1 / ratio)

    return min(range(count, 0, -1), key=stretch)


def _inside(obj: SceneObject, container: Blob) -> list[Blob]:
    """obj.count blobs inside ``container``: at its centre, or spread along its major axis."""
    horizontal = container.angle < 45 or container.angle > 135
    a, b = container.a * 0.45 / obj.count**0.5, container.b * 0.45 / obj.count**0.5
    blobs = []
    for index in range(obj.count):
        offset = (index - (obj.count - 1) / 2) * 2 * a
        cx = container.cx + (offset if horizontal else 0.0)
        cy = container.cy + (0.0 if horizontal else offset)
        blobs.append(_blob(obj, cx, cy, max(a, b), min(a, b), horizontal))
    return blobs


def _around(obj: SceneObject, hub: Blob) -> list[Blob]:
    """obj.count blobs on a ring about ``hub`` (already shrunk to _HUB of its share), each as
    large as fits without touching the hub or its neighbours."""
    horizontal = hub.angle < 45 or hub.angle > 135
    wide, tall = (hub.a, hub.b) if horizontal else (hub.b, hub.a)
    rx, ry = wide / _HUB * 0.85, tall / _HUB * 0.85  # most of the hub's share before shrinking
    gap = min(rx - wide, ry - tall)  # between the hub's edge and the ring
    size = 0.9 * min(min(rx, ry) * math.sin(math.pi / max(obj.count, 2)), gap)
    blobs = []
    for index in range(obj.count):
        angle = 2 * math.pi * index / obj.count - math.pi / 2  # the first one at the top
        cx, cy = hub.cx + rx * math.cos(angle), hub.cy + ry * math.sin(angle)
        blobs.append(_blob(obj, cx, cy, size, size, True))
    return blobs


def _shrunk(blob: Blob, factor: float) -> Blob:
    return blob.model_copy(update={"a": blob.a * factor, "b": blob.b * factor})


# How much of the room it is given an object said to be small or medium takes ("a big red ring
# and a small blue triangle above it" drew the triangle as large as the ring: the blob is what a
# blob-grounded model fills). Anything else fills its room, as before.
SIZE_SHARE = {"tiny": 0.4, "little": 0.5, "small": 0.5, "mini": 0.5, "medium": 0.75}


def _blob(obj: SceneObject, cx: float, cy: float, a: float, b: float, horizontal: bool) -> Blob:
    share = min((SIZE_SHARE.get(w, 1.0) for w in re.findall(r"[a-z]+", obj.description.lower())),
                default=1.0)  # fmt: skip
    return Blob(
        description=obj.description,
        label=re.sub(r"[^A-Za-z0-9_\-]", "", obj.noun)[:32] or "object",
        cx=min(max(cx, 0.0), 1.0),
        cy=min(max(cy, 0.0), 1.0),
        a=a * share,
        b=b * share,
        angle=0.0 if horizontal else 90.0,
    )


def _related(graph: SceneGraph, key: str, axis: str) -> bool:
    horizontal = {"left_of", "right_of", "between", "next_to"}
    return any(
        key in (a, b, c) and rel not in ("inside", "around")
        and ((rel in horizontal) == (axis == "x"))
        for a, rel, b, c in graph.relations
    )  # fmt: skip


def _span(layer: int, layers: int, region: float | None, related: bool) -> tuple[float, float]:
    """The extent of an object's share of the canvas along one axis."""
    if region is not None and not related:
        return (0.0, 0.5) if region < 0.5 else (0.5, 1.0) if region > 0.5 else (0.25, 0.75)
    if not related:
        return 0.1, 0.9  # unconstrained on this axis: centred, wide
    step = 1.0 / layers
    return layer * step, (layer + 1) * step


def scene_blobs(description: str) -> list[Blob]:
    """Blobs for a generation prompt, or [] when it names no countable objects; raises
    :class:`LayoutError` when no layout can satisfy the description."""
    return solve(scene_graph(description))


def place_blobs(description: str, place: str, count: int) -> list[Blob]:
    """``count`` blobs for objects put together at a canvas region ("two stars on the right")."""
    blob = place_blob(description, place)
    return [] if blob is None else spread_blob(blob, count)


def spread_blob(blob: Blob, count: int) -> list[Blob]:
    """``count`` round blobs where ``blob`` is, for several objects put there: one above another
    on a side, side by side elsewhere (in a corner's quarter, or across half the canvas), each
    smaller as they are more."""
    if count <= 1:
        return [blob]
    side = abs(blob.cx - 0.5) > 0.15 and abs(blob.cy - 0.5) <= 0.15  # left or right
    corner = abs(blob.cx - 0.5) > 0.15 and abs(blob.cy - 0.5) > 0.15
    step = min((0.45 if corner else 0.8) / count, 0.3)  # a corner is a quarter, a side a half
    radius = min(blob.b, 0.4 * step)
    blobs = []
    for index in range(count):
        offset = (index - (count - 1) / 2) * step
        cx = blob.cx if side else min(max(blob.cx + offset, radius), 1 - radius)
        cy = min(max(blob.cy + offset, radius), 1 - radius) if side else blob.cy
        label = f"{blob.label[:30]}{index + 1}"
        blobs.append(blob.model_copy(update={"cx": cx, "cy": cy, "a": radius, "b": radius,
                                              "label": label, "angle": 0.0}))  # fmt: skip
    return blobs


def place_blob(description: str, place: str) -> Blob | None:
    """A blob for an object put at a canvas region ("on the left", "top right corner")."""
    lowered = place.lower()
    names = sorted(REGIONS, key=len, reverse=True)
    region = next((REGIONS[n] for n in names if re.search(rf"\b{n}\b", lowered)), None)
    if region is None:
        return None
    cx = region[0] if region[0] is not None else 0.5
    cy = region[1] if region[1] is not None else 0.55
    words = re.findall(r"[A-Za-z0-9]+", description) or ["object"]
    return Blob(
        description=description, label="_".join(words[-2:])[:32], cx=cx, cy=cy, a=0.22, b=0.18
    )
