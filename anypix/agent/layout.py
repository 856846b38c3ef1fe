"""Layout reasoning: a scene graph read from the description, then a solver that places blobs.

"three balloons over a boy" -> objects {balloon x3, boy x1}, relation (balloon above boy) ->
three blobs in a band above one blob. The solver orders objects along x by left/right/between
relations and canvas regions ("on the left"), along y by above/below, gives each object an equal
share of its row or column ("prefer objects to be large", as BlobGEN's prompt asks) and spreads
repeated objects across their share. It is exact about counts and relations by construction; the
LLM path (BlobGEN's CSS prompt, see ``planner.py``) is measured against it in
``benchmarks/planner.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from anypix.plan import Blob

NUMBERS = {
    "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a pair of": 2, "a couple of": 2, "pair of": 2,
    "couple of": 2, "several": 3, "a few": 3, "few": 3, "both": 2, "twin": 2, "a trio of": 3,
}  # fmt: skip
# Canvas regions and their centres (x, y); "left" keeps y free (None).
REGIONS: dict[str, tuple[float | None, float | None]] = {
    "left": (0.25, None), "right": (0.75, None), "top": (None, 0.25), "bottom": (None, 0.75),
    "upper": (None, 0.25), "lower": (None, 0.75), "center": (0.5, 0.5), "centre": (0.5, 0.5),
    "middle": (0.5, 0.5), "top left": (0.25, 0.25), "top right": (0.75, 0.25),
    "upper left": (0.25, 0.25), "upper right": (0.75, 0.25), "bottom left": (0.25, 0.75),
    "bottom right": (0.75, 0.75), "lower left": (0.25, 0.75), "lower right": (0.75, 0.75),
    "left side": (0.25, None), "right side": (0.75, None), "foreground": (None, 0.72),
    "background": (None, 0.3), "sky": (None, 0.2),
}  # fmt: skip
REGION_WORDS = tuple(r for r in REGIONS if r not in ("sky", "left side", "right side"))
_IRREGULAR = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "leaves": "leaf", "knives": "knife",
    "wolves": "wolf", "shelves": "shelf", "loaves": "loaf", "calves": "calf", "halves": "half",
    "scarves": "scarf", "sheep": "sheep", "fish": "fish", "deer": "deer", "glasses": "glass",
    "buses": "bus", "dice": "die", "cacti": "cactus", "oxen": "ox", "puppies": "puppy",
}  # fmt: skip
_NOT_PLURAL = ("ss", "us", "is", "ous")
# Relation words -> (relation, swap): "A under B" is "A below B".
_RELATIONS = [
    (r"(?:to the |on the |at the )?left(?: side)? of", "left_of"),
    (r"(?:to the |on the |at the )?right(?: side)? of", "right_of"),
    (r"above|over|on top of|atop|higher than", "above"),
    (r"below|under|underneath|beneath|lower than", "below"),
    (r"between", "between"),
    (r"next to|beside|near|by|alongside", "next_to"),
    (r"in front of", "in_front_of"),
    (r"behind", "behind"),
    (r"on|sitting on|standing on|resting on|lying on", "on"),
    (r"in|inside|within", "in"),
    (r"around|surrounding|among", "around"),
]
# Participles that sit between an object and its relation ("a kite flying above a tree").
_PARTICIPLES = r"sitting|standing|flying|hanging|lying|floating|perched|resting|hovering|sleeping|swimming|running|walking|playing|parked|placed|shining|rising|growing|leaning|waiting|stacked|glowing"
_SETTINGS = {"sky", "grass", "field", "beach", "ground", "water", "sea", "ocean", "snow",
             "desert", "forest", "room", "street", "park", "garden", "space", "night", "sunset",
             "background", "meadow", "lake", "river", "city", "road", "floor", "row", "line", "circle", "pile", "group", "style", "storm", "rain", "fog"}  # fmt: skip


def singular(word: str) -> str:
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(?:ches|shes|xes|sses|zes|oes)$", word) and word not in ("shoes", "canoes"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_NOT_PLURAL) and len(word) > 2:
        return word[:-1]
    return word


@dataclass
class SceneObject:
    """One kind of object in the scene: its head noun, how many, and where on the canvas."""

    noun: str
    count: int
    description: str
    region: tuple[float | None, float | None] = (None, None)


@dataclass
class SceneGraph:
    objects: list[SceneObject] = field(default_factory=list)
    relations: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # a rel b [c]
    row: bool = False  # "in a row": repeated objects side by side

    def find(self, noun: str) -> SceneObject | None:
        return next((o for o in self.objects if o.noun == noun), None)


_COUNT = re.compile(
    rf"^(?:(\d+)|({'|'.join(sorted(map(re.escape, NUMBERS), key=len, reverse=True))}))\s+",
    re.IGNORECASE,
)
_REL_SPLIT = re.compile(r"\s+(" + "|".join(p for p, _ in _RELATIONS) + r")\s+", re.IGNORECASE)
_TRAIL = re.compile(
    rf"\s+(?:with|wearing|holding|made of|of|that|which|who|in the style of|painted|drawn|{_PARTICIPLES})\b.*$|,.*$",
    re.IGNORECASE,
)


def _noun_phrase(text: str) -> SceneObject | None:
    text = re.sub(r"^(?:and|with|plus|then)\s+", "", text.strip(" ,."), flags=re.IGNORECASE)
    text = re.sub(r"^(?:there (?:is|are)|show|draw|paint|generate)\s+", "", text, flags=re.I)
    match = _COUNT.match(text)
    count = 1
    if match:
        count = int(match.group(1)) if match.group(1) else NUMBERS[match.group(2).lower()]
        text = text[match.end() :]
    elif re.match(r"^the\s+", text, re.IGNORECASE):
        text = re.sub(r"^the\s+", "", text, flags=re.IGNORECASE)
    core = _TRAIL.sub("", text).strip()
    words = re.findall(r"[A-Za-z]+", core)
    if not words:
        return None
    noun = singular(words[-1])
    if noun in _SETTINGS or noun in REGIONS:
        return None
    return SceneObject(noun=noun, count=count, description=" ".join(words))


def _absolute(text: str) -> tuple[str, tuple[float | None, float | None]]:
    """Split "a dog on the left" into ("a dog", region of "left")."""
    names = "|".join(sorted(map(re.escape, REGIONS), key=len, reverse=True))
    match = re.search(
        rf"\s*,?\s*(?:on|at|in|to)\s+the\s+(?:far\s+)?({names})(?:\s+(?:side|corner|edge|half))?"
        rf"(?:\s+of the (?:image|picture|scene|canvas))?\s*$",
        text,
        re.IGNORECASE,
    )
    if match is None:
        return text, (None, None)
    return text[: match.start()], REGIONS[match.group(1).lower()]


def scene_graph(description: str) -> SceneGraph:
    """Objects, counts and relations of a description (a small rule-based reader)."""
    graph = SceneGraph(row=bool(re.search(r"\bin a (?:row|line)\b|side by side", description)))
    text = re.sub(r"\bin a (?:row|line)\b|\bside by side\b", "", description, flags=re.I)
    # "between a sofa and a plant": that "and" belongs to the relation, not the list
    text = re.sub(r"\b(between\s+[^,;]+?)\s+and\s+", r"\1 & ", text, flags=re.I)
    for part in re.split(r"\s*(?:,|;|\band\b|\bwhile\b)\s*", text):
        _read_part(part, graph)
    return graph


def _read_part(part: str, graph: SceneGraph) -> None:
    part, region = _absolute(part)
    pieces = _REL_SPLIT.split(part, maxsplit=1)
    first = _noun_phrase(pieces[0])
    if first is None:
        return
    first.region = region
    _merge(graph, first)
    if len(pieces) < 3:
        return
    relation = next(r for p, r in _RELATIONS if re.fullmatch(p, pieces[1], re.IGNORECASE))
    if relation == "between":
        others = re.split(r"\s*&\s*", pieces[2], maxsplit=1)
        found = [_noun_phrase(o) for o in others]
        if len(found) == 1 and found[0] is not None and found[0].count == 2:
            _merge(graph, found[0])  # "between two houses": one house on each side
            graph.relations.append((first.noun, "between", found[0].noun, found[0].noun))
            return
        if len(found) == 2 and all(found):
            for other in found:
                _merge(graph, other)  # type: ignore[arg-type]
            graph.relations.append((first.noun, "between", found[0].noun, found[1].noun))  # type: ignore[union-attr]
        return
    second = _noun_phrase(pieces[2])
    if second is not None:
        _merge(graph, second)
        graph.relations.append((first.noun, relation, second.noun, None))


def _merge(graph: SceneGraph, obj: SceneObject) -> None:
    known = graph.find(obj.noun)
    if known is None:
        graph.objects.append(obj)
    elif obj.region != (None, None):
        known.region = obj.region


def _orders(graph: SceneGraph) -> tuple[dict[str, int], dict[str, int]]:
    """Layer of each object along x (left to right) and y (top to bottom): longest paths."""
    xs: list[tuple[str, str]] = []
    ys: list[tuple[str, str]] = []
    for a, rel, b, c in graph.relations:
        if rel == "left_of":
            xs.append((a, b))
        elif rel == "right_of":
            xs.append((b, a))
        elif rel in ("above", "on"):
            ys.append((a, b))
        elif rel == "below":
            ys.append((b, a))
        elif rel in ("next_to", "in_front_of", "behind"):
            xs.append((a, b)) if rel == "next_to" else ys.append(
                (b, a) if rel == "behind" else (a, b)
            )
        elif rel == "between" and c is not None and c != b:
            xs += [(b, a), (a, c)]
    return _layers(graph, xs), _layers(graph, ys)


def _layers(graph: SceneGraph, edges: list[tuple[str, str]]) -> dict[str, int]:
    layer = {o.noun: 0 for o in graph.objects}
    for _ in range(len(layer)):  # Bellman-Ford style longest path; cycles stop at len(layer)
        changed = False
        for a, b in edges:
            if a in layer and b in layer and layer[b] < layer[a] + 1:
                layer[b], changed = layer[a] + 1, True
        if not changed:
            break
    return layer


def solve(graph: SceneGraph) -> list[Blob]:
    """Blobs for every object instance: counts exact, relations kept, objects as large as fit."""
    x_layer, y_layer = _orders(graph)
    blobs: list[Blob] = []
    nx = max(x_layer.values(), default=0) + 1
    ny = max(y_layer.values(), default=0) + 1
    # "a tower between two houses": the tower takes the middle third, a house each outer third
    flanked = {a: b for a, rel, b, c in graph.relations if rel == "between" and b == c}
    for obj in graph.objects:
        x0, x1 = _span(x_layer[obj.noun], nx, obj.region[0], _related(graph, obj.noun, "x"))
        if obj.noun in flanked:
            x0, x1 = 1 / 3, 2 / 3
        elif obj.noun in flanked.values():
            x0, x1 = 0.0, 1.0
        y0, y1 = _span(y_layer[obj.noun], ny, obj.region[1], _related(graph, obj.noun, "y"))
        cols = obj.count if graph.row or obj.count <= 3 or (y1 - y0) < (x1 - x0) else 2
        cols = min(cols, obj.count)
        rows = -(-obj.count // cols)
        for index in range(obj.count):
            col, row = index % cols, index // cols
            cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
            cx, cy = x0 + cw * (col + 0.5), y0 + ch * (row + 0.5)
            if obj.noun in flanked.values() and obj.count == 2:
                cw, cx = 1 / 3, (1 / 6, 5 / 6)[index]
            a, b = 0.46 * max(cw, ch), 0.46 * min(cw, ch)
            label = obj.noun if obj.count == 1 else f"{obj.noun}{index + 1}"
            blobs.append(
                Blob(
                    description=obj.description,
                    label=re.sub(r"[^A-Za-z0-9_\-]", "", label)[:32] or "object",
                    cx=cx,
                    cy=cy,
                    a=min(a, 0.45),
                    b=min(b, 0.45),
                    angle=0.0 if cw >= ch else 90.0,
                )
            )
    return blobs


def _related(graph: SceneGraph, noun: str, axis: str) -> bool:
    horizontal = {"left_of", "right_of", "between", "next_to"}
    return any(
        noun in (a, b, c) and ((rel in horizontal) == (axis == "x"))
        for a, rel, b, c in graph.relations
    )


def _span(layer: int, layers: int, region: float | None, related: bool) -> tuple[float, float]:
    """The extent of an object's share of the canvas along one axis."""
    if region is not None and not related:
        return (0.0, 0.5) if region < 0.5 else (0.5, 1.0) if region > 0.5 else (0.25, 0.75)
    if not related:
        return 0.1, 0.9  # unconstrained on this axis: centred, wide
    step = 1.0 / layers
    return layer * step, (layer + 1) * step


def scene_blobs(description: str) -> list[Blob]:
    """Blobs for a generation prompt, or [] when it names no countable objects."""
    graph = scene_graph(description)
    return solve(graph)


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
