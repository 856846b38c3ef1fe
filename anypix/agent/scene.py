"""Reading a scene description into a scene graph: objects, counts and spatial relations.

"three balloons over a boy, and a dog to the left of a cat" -> objects {balloon x3, boy, dog,
cat} and relations (balloon above boy), (dog left_of cat). Counts may be digits, number words
("twenty-one") or phrases ("a pair of", "half a dozen"); shapes ("a circle", "a ring") are objects
like any other, while arrangements ("in a circle", "in a row") are read as such. Relations that
cannot describe any layout (an object left of itself, "between" one thing) raise
:class:`LayoutError`; :mod:`anypix.agent.layout` solves the graph into blobs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from anypix.errors import LayoutError

_UNITS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# Counting phrases that are not number words ("a" is one; "a dozen" is twelve).
COUNT_PHRASES = {
    "a": 1, "an": 1, "single": 1, "a single": 1, "one single": 1, "a pair of": 2, "pair of": 2,
    "a couple of": 2, "couple of": 2, "both": 2, "twin": 2, "a trio of": 3, "several": 3,
    "a few": 3, "few": 3, "a dozen": 12, "dozen": 12, "half a dozen": 6, "dozens of": 24,
    "a hundred": 100, "hundreds of": 200, "a thousand": 1000, "thousands of": 2000,
    "a million": 1_000_000, "millions of": 2_000_000,
}  # fmt: skip
# Canvas regions and their centres (x, y); "left" keeps y free (None).
REGIONS: dict[str, tuple[float | None, float | None]] = {
    "left": (0.25, None), "right": (0.75, None), "top": (None, 0.25), "bottom": (None, 0.75),
    "upper": (None, 0.25), "lower": (None, 0.75), "center": (0.5, 0.5), "centre": (0.5, 0.5),
    "middle": (0.5, 0.5), "top left": (0.25, 0.25), "top right": (0.75, 0.25),
    "upper left": (0.25, 0.25), "upper right": (0.75, 0.25), "bottom left": (0.25, 0.75),
    "bottom right": (0.75, 0.75), "lower left": (0.25, 0.75), "lower right": (0.75, 0.75),
    "left side": (0.25, None), "right side": (0.75, None), "left-hand": (0.25, None),
    "left hand": (0.25, None), "right-hand": (0.75, None), "right hand": (0.75, None),
    "foreground": (None, 0.72), "background": (None, 0.3), "sky": (None, 0.2),
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
# Relation words -> relation, most specific first ("on top of" before "on", "in between"
# before "in"): "A under B" is "A below B".
_RELATIONS = [
    (r"(?:to the |on the |at the )?left(?:[- ]hand)?(?: side)? of", "left_of"),
    (r"(?:to the |on the |at the )?right(?:[- ]hand)?(?: side)? of", "right_of"),
    (r"on top of|above|over|atop|higher than", "above"),
    (r"below|under|underneath|beneath|lower than", "below"),
    (r"in between|between", "between"),
    (r"next to|beside|alongside|by|near", "next_to"),
    (r"in front of", "in_front_of"),
    (r"behind", "behind"),
    (r"sitting on|standing on|resting on|lying on|on", "on"),
    (r"inside of|inside|within|in", "inside"),
    (r"around|surrounding|among", "around"),
]
# Participles that sit between an object and its relation ("a kite flying above a tree").
_PARTICIPLES = r"sitting|standing|flying|hanging|lying|floating|perched|resting|hovering|sleeping|swimming|running|walking|playing|parked|placed|shining|rising|growing|leaning|waiting|stacked|glowing"
# Nouns that are the scene, not objects in it ("a bird in the sky"). Shapes such as "circle" are
# objects; "in a circle" as an arrangement is removed before reading.
_SETTINGS = {"sky", "grass", "field", "beach", "ground", "water", "sea", "ocean", "snow",
             "desert", "forest", "room", "street", "park", "garden", "space", "night", "sunset",
             "background", "meadow", "lake", "river", "city", "road", "floor", "row", "line",
             "pile", "group", "grid", "style", "storm", "rain", "fog"}  # fmt: skip
_ARRANGEMENT = re.compile(
    r"\b(?:in an?|on an?|arranged in an?)\s+(?:row|line|circle|ring|grid|pile|stack)\b|"
    r"\bside by side\b|\bnext to each other\b|\bbeside each other\b",
    re.IGNORECASE,
)
_REFLEXIVE = re.compile(r"^(?:it|itself|themselves|each other|one another)$", re.IGNORECASE)


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


# -- counts -----------------------------------------------------------------------------------------

_NUMBER_WORD = (
    rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS[1:10])}))?|{'|'.join(_UNITS[::-1])})"
    rf"(?:\s+(?:{'|'.join(_SCALES)}))?"
)
_COUNT = re.compile(
    rf"^(?:(\d+)|({'|'.join(sorted(map(re.escape, COUNT_PHRASES), key=len, reverse=True))})|"
    rf"({_NUMBER_WORD}))\s+",
    re.IGNORECASE,
)


def number_value(words: str) -> int:
    """ "twenty-one" -> 21, "three hundred" -> 300, "twelve" -> 12."""
    total = 0
    for word in re.split(r"[- ]+", words.lower()):
        if word in _SCALES:
            total = max(total, 1) * _SCALES[word]
        elif word in _TENS:
            total += _TENS[word]
        else:
            total += _UNITS.index(word)
    return total


def take_count(text: str) -> tuple[int | None, str]:
    """A leading count ("3", "three", "a dozen") and the text after it; None when there is none."""
    match = _COUNT.match(text)
    if match is None:
        return None, text
    digits, phrase, words = match.groups()
    if digits:
        count = int(digits)
    elif phrase:
        count = COUNT_PHRASES[phrase.lower()]
    else:
        count = number_value(words)
    return count, text[match.end() :]


# -- the scene graph --------------------------------------------------------------------------------


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


_REL_SPLIT = re.compile(r"\s+(" + "|".join(p for p, _ in _RELATIONS) + r")\s+", re.IGNORECASE)
_TRAIL = re.compile(
    rf"\s+(?:with|wearing|holding|made of|of|that|which|who|in the style of|painted|drawn|{_PARTICIPLES})\b.*$|,.*$",
    re.IGNORECASE,
)


def _noun_phrase(text: str) -> SceneObject | None:
    text = re.sub(r"^(?:and|with|plus|then)\s+", "", text.strip(" ,."), flags=re.IGNORECASE)
    text = re.sub(r"^(?:there (?:is|are)|show|draw|paint|generate)\s+", "", text, flags=re.I)
    count, text = take_count(text)
    if count is None:
        count = 1
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
    """Objects, counts and relations of a description (a small rule-based reader); raises
    :class:`LayoutError` for relations that cannot be read as a layout."""
    graph = SceneGraph(row=bool(_ARRANGEMENT.search(description)))
    text = _ARRANGEMENT.sub("", description)
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
    other = pieces[2].strip(" ,.")
    if _REFLEXIVE.match(other):
        if first.count > 1 and relation in ("next_to", "left_of", "right_of"):
            graph.row = True  # "two stars next to each other"
            return
        raise LayoutError(
            f"{first.description!r} cannot be {pieces[1]} itself",
            "relate it to another object, e.g. 'a circle to the left of a square'",
        )
    if relation == "between":
        _read_between(first, other, graph)
        return
    second = _noun_phrase(other)
    if second is not None:
        _merge(graph, second)
        graph.relations.append((first.noun, relation, second.noun, None))


def _read_between(first: SceneObject, others: str, graph: SceneGraph) -> None:
    found = [_noun_phrase(o) for o in re.split(r"\s*&\s*", others, maxsplit=1)]
    if len(found) == 1 and found[0] is not None and found[0].count == 2:
        _merge(graph, found[0])  # "between two houses": one house on each side
        graph.relations.append((first.noun, "between", found[0].noun, found[0].noun))
        return
    if len(found) == 2 and found[0] is not None and found[1] is not None:
        for other in found:
            _merge(graph, other)  # type: ignore[arg-type]
        graph.relations.append((first.noun, "between", found[0].noun, found[1].noun))
        return
    raise LayoutError(
        f"'between' needs two things on either side of {first.description!r}",
        "name both, e.g. 'a star between a moon and a sun' or 'a star between two rings'",
    )


def _merge(graph: SceneGraph, obj: SceneObject) -> None:
    known = graph.find(obj.noun)
    if known is None:
        graph.objects.append(obj)
    elif obj.region != (None, None):
        known.region = obj.region
