"""Reading a scene description into a scene graph: objects, counts and spatial relations.

"three balloons over a boy, and a dog to the left of a cat" -> objects {balloon x3, boy, dog,
cat} and relations (balloon above boy), (dog left_of cat). Counts may be digits, number words
("twenty-one") or phrases ("a pair of", "two dozen"); shapes ("a circle", "a ring") are objects
like any other, while arrangements ("in a row", "stacked") are read as such. A sentence may chain
relations ("a circle above a square above a triangle"), add one with "which is", start a part
with a relation ("a ball above a box and below the box") or point back with "it" / "them" ("two
boxes with a ball between them"). "a red ball and a blue ball" are two objects; "the ball" is
one mentioned before. What cannot describe any layout (an object left of itself, "between" one
thing, a relation with nothing after it) raises :class:`LayoutError` with the reason, rather
than dropping a word; :mod:`anypix.agent.layout` solves the graph into blobs. The words live in
:mod:`anypix.agent.scene_words`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from anypix.agent.scene_words import (
    ADVERBIAL,
    ARRANGEMENTS,
    COUNT_MULTIPLIERS,
    COUNT_PHRASES,
    FRAMES,
    LINKING_ADVERBS,
    LINKING_VERBS,
    NUMBER_SCALES,
    NUMBER_TENS,
    NUMBER_UNITS,
    REGION_WORDS,
    REGIONS,
    RELATIONS,
    SETTINGS,
    fix_slips,
    singular,
)
from anypix.errors import LayoutError

__all__ = [
    "COUNT_PHRASES",
    "REGIONS",
    "REGION_WORDS",
    "SceneGraph",
    "SceneObject",
    "number_value",
    "scene_graph",
    "singular",
    "take_count",
]

Relation = tuple[str, str, str, str | None]  # (a, relation, b, c): keys of SceneGraph.objects


def _alternation(words: object) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))  # type: ignore[call-overload]


# -- counts -----------------------------------------------------------------------------------------

_NUMBER_WORD = (
    rf"(?:(?:{'|'.join(NUMBER_TENS)})(?:[- ](?:{'|'.join(NUMBER_UNITS[1:10])}))?|"
    rf"{'|'.join(NUMBER_UNITS[::-1])})(?:\s+(?:{'|'.join(NUMBER_SCALES)}))?"
)
_COUNT = re.compile(
    rf"^(?:(\d+)|({_NUMBER_WORD})|({_alternation(COUNT_PHRASES)}))"
    rf"(?:\s+({_alternation(COUNT_MULTIPLIERS)}))?\s+",
    re.IGNORECASE,
)


def number_value(words: str) -> int:
    """ "twenty-one" -> 21, "three hundred" -> 300, "twelve" -> 12."""
    total = 0
    for word in re.split(r"[- ]+", words.lower()):
        if word in NUMBER_SCALES:
            total = max(total, 1) * NUMBER_SCALES[word]
        elif word in NUMBER_TENS:
            total += NUMBER_TENS[word]
        else:
            total += NUMBER_UNITS.index(word)
    return total


def take_count(text: str) -> tuple[int | None, str]:
    """A leading count ("3", "three", "a dozen", "two dozen") and the text after it; None when
    there is none."""
    match = _COUNT.match(text)
    if match is None:
        return None, text
    digits, words, phrase, multiplier = match.groups()
    if digits:
        count = int(digits)
    elif words:
        count = number_value(words)
    else:
        count = COUNT_PHRASES[phrase.lower()]
    if multiplier:
        count *= COUNT_MULTIPLIERS[multiplier.lower()]
    return count, text[match.end() :]


# -- the scene graph --------------------------------------------------------------------------------


@dataclass
class SceneObject:
    """One kind of object in the scene: its head noun, how many, and where on the canvas.
    ``key`` names it in relations: the noun, or "noun#2" for a second object of that noun
    ("a red ball and a blue ball")."""

    noun: str
    count: int
    description: str
    region: tuple[float | None, float | None] = (None, None)
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or self.noun


@dataclass
class SceneGraph:
    objects: list[SceneObject] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    arrangement: str | None = None  # "row", "column" or "grid": how repeated objects stand

    @property
    def row(self) -> bool:
        return self.arrangement == "row"

    def find(self, key: str) -> SceneObject | None:
        return next((o for o in self.objects if o.key == key), None)

    def latest(self, noun: str) -> SceneObject | None:
        return next((o for o in reversed(self.objects) if o.noun == noun), None)

    def add(self, obj: SceneObject) -> SceneObject:
        same = sum(o.noun == obj.noun for o in self.objects)
        obj.key = obj.noun if same == 0 else f"{obj.noun}#{same + 1}"
        self.objects.append(obj)
        return obj


# -- reading text -----------------------------------------------------------------------------------

_RELATION_WORDS = "|".join(f"(?:{pattern})" for pattern, _ in RELATIONS)
_RELATION_SPLIT = re.compile(rf"(?<![\w-])({_RELATION_WORDS})(?![\w-])")
_LINKING = re.compile(
    rf"\b(?:(?:{LINKING_VERBS})\s+)+(?:(?:{LINKING_ADVERBS})\s+)*(?=(?:{_RELATION_WORDS})\b)"
)
_ARRANGEMENT = {name: re.compile(rf"\b(?:{words})\b") for name, words in ARRANGEMENTS.items()}
_FRAME = re.compile(
    rf"^(?:me\s+)?(?:(?:an?|the|one)\s+)?(?:{FRAMES})\s+(?:of|with|showing|where|in which|that "
    r"has|containing)\s+"
)
_PRONOUN = re.compile(r"^(?:it|them|him|her|this|that|this one|that one|these|those)$")
_REFLEXIVE = re.compile(r"^(?:itself|themselves|each other|one another)$")
_TRAIL = re.compile(
    rf"\s+(?:with|wearing|holding|made of|of|that|which|who|in the style of|painted|drawn|"
    rf"{LINKING_VERBS})\b.*$"
)
_LEAD = re.compile(
    r"^(?:(?:and|with|plus|then|also|there (?:is|are)|show|draw|paint|generate|make|put|place|"
    r"me|please)\s+)+"
)
# Parts of a sentence: ", ", "; ", "and", "plus", "while", and "with" when what follows points
# back ("a star with two circles below it").
_PARTS = re.compile(r"\s*(?:[,;]|\band\b|\bplus\b|\bwhile\b|\bwith\b(?=[^,;]*\b(?:it|them)\b))\s*")
_RELATIVE = re.compile(r"^(?:which|that|who)(?:\s+(?:is|are))?\s+")


def _normalise(description: str) -> str:
    text = " ".join(description.lower().replace("\u2019", "'").split()).strip(" .!?")
    text = fix_slips(text)
    text = _FRAME.sub("", text)
    # "a circle that is above a square" is "a circle above a square"; after a comma, "which is
    # above" is about the object named just before (read by _Reader)
    text = re.sub(r"(?<=\w)\s+(?:that|which|who)\s+(?:is|are)\s+(?=(?:" + _RELATION_WORDS
                  + r")\b)", " ", text)  # fmt: skip
    text = _LINKING.sub("", text)
    # "between a sofa and a plant": that "and" belongs to the relation, not the list
    return re.sub(r"\b(between\s+[^,;]+?)\s+and\s+", r"\1 & ", text)


def scene_graph(description: str) -> SceneGraph:
    """Objects, counts and relations of a description (a small rule-based reader); raises
    :class:`LayoutError` for relations that cannot be read as a layout."""
    text = _normalise(description)
    graph = SceneGraph()
    for name, pattern in _ARRANGEMENT.items():
        if pattern.search(text):
            graph.arrangement = graph.arrangement or name
            text = pattern.sub("", text)
    reader = _Reader(graph)
    for part in _PARTS.split(text):
        reader.read(part.strip())
    if reader.pending and noun_phrase(reader.pending[-1]) is not None:
        words = " ".join(reader.pending)
        raise LayoutError(f"'{words}' says where but not what is there",
                          f"name the object, e.g. 'a star {words}'")  # fmt: skip
    return graph


def _absolute(text: str) -> tuple[str, tuple[float | None, float | None]]:
    """Split "a dog on the left" into ("a dog", region of "left")."""
    match = re.search(
        rf"\s*,?\s*(?:on|at|in|to|towards)\s+the\s+(?:far\s+|very\s+)?({_alternation(REGIONS)})"
        rf"(?:\s+(?:side|corner|edge|half|part))?(?:\s+of the (?:image|picture|scene|canvas))?$",
        text,
    )
    if match is None:
        return text, (None, None)
    return text[: match.start()], REGIONS[match.group(1)]


class _Reader:
    """Reads the parts of one description into a graph, remembering what the previous part was
    about so that "and below the box", "which is above a square" and "it" have a subject."""

    def __init__(self, graph: SceneGraph) -> None:
        self.graph = graph
        self.subject: SceneObject | None = None  # the first object of the previous part
        self.last: SceneObject | None = None  # the last object of the previous part
        self.earlier: list[SceneObject] = []  # the objects named before this part
        self.pending: list[str] = []  # "on a table, three apples": the relation waits for them

    def read(self, part: str) -> None:
        self.earlier = list(self.graph.objects)
        part, region = _absolute(part)
        relative = _RELATIVE.match(part)
        if relative:
            part, subject = part[relative.end() :], self.last
        else:
            subject = None
        pieces = [p.strip(" ,.") for p in _RELATION_SPLIT.split(f"{part}")]
        if len(pieces) > 2 and not pieces[-1] and pieces[-2] in ADVERBIAL:
            pieces = pieces[:-2]  # "a fish swimming around": an adverb, not a relation
        if pieces[0] and subject is None:
            subject = self._mention(pieces[0])
        elif len(pieces) > 1 and subject is None:  # "and below the box": the last subject
            subject = self.subject
            if subject is None:
                self.pending = pieces[1:]
                return
        if subject is None:
            return
        if region != (None, None):
            subject.region = region
        if self.pending:
            self._chain(subject, self.pending)
            self.pending = []
        last = self._chain(subject, pieces[1:])
        self.subject, self.last = subject, last

    def _chain(self, first: SceneObject, pieces: list[str]) -> SceneObject:
        """ "a circle above a square above a triangle": each relation links its two neighbours."""
        current = first
        for words, target in zip(pieces[::2], pieces[1::2], strict=True):
            if not target:
                raise LayoutError(
                    f"'{current.description} {words}' does not say what it is {words}",
                    f"name it, e.g. 'a {current.noun} {words} a moon'",
                )
            relations = next(r for p, r in RELATIONS if re.fullmatch(p, words))
            if relations == ("between",):
                self._between(current, target)
                return current
            other = self._target(current, words, target)
            if other is None:
                continue
            for relation in relations:
                self.graph.relations.append((current.key, relation, other.key, None))
            current = other
        return current

    def _target(self, subject: SceneObject, words: str, target: str) -> SceneObject | None:
        if _PRONOUN.match(target):
            return self.subject if self.subject is not subject else self.last
        if _REFLEXIVE.match(target):
            self._reflexive(subject, words, target)
            return None
        return self._mention(target)

    def _reflexive(self, subject: SceneObject, words: str, target: str) -> None:
        relations = next(r for p, r in RELATIONS if re.fullmatch(p, words))
        if subject.count > 1 and target != "itself":
            sideways = relations[0] in ("next_to", "left_of", "right_of")
            if sideways or relations[0] in ("above", "below", "on"):
                self.graph.arrangement = "row" if sideways else "column"
                return
        raise LayoutError(
            f"{subject.description!r} cannot be {words} itself",
            "relate it to another object, e.g. 'a circle to the left of a square'",
        )

    def _between(self, first: SceneObject, others: str) -> None:
        names = [o.strip() for o in others.split("&", 1)]
        if len(names) == 1 and _PRONOUN.match(names[0]):
            # "two boxes with a ball between them"; "a tree, a bench and a lamp between them"
            many = self.subject is not None and self.subject.count > 1
            found: list[SceneObject | None] = [self.subject] if many else [*self.earlier[-2:]]
        else:
            found = [self._mention(name) for name in names]
        if len(found) == 1 and found[0] is not None and found[0].count == 2:
            flank = found[0]  # "between two houses": one house on each side
            self.graph.relations.append((first.key, "between", flank.key, flank.key))
            return
        if len(found) == 2 and found[0] is not None and found[1] is not None:
            self.graph.relations.append((first.key, "between", found[0].key, found[1].key))
            return
        raise LayoutError(
            f"'between' needs two things on either side of {first.description!r}",
            "name both, e.g. 'a star between a moon and a sun' or 'a star between two rings'",
        )

    def _mention(self, text: str) -> SceneObject | None:
        """The object a noun phrase names: one mentioned before ("the box", "box") or a new one
        ("a blue ball" after "a red ball"); None for the setting ("the sky")."""
        phrase = noun_phrase(text)
        if phrase is None:
            return None
        count, noun, description = phrase
        known = self.graph.latest(noun)
        if known is not None and count is None:
            return known
        return self.graph.add(SceneObject(noun, count or 1, description))


def noun_phrase(text: str) -> tuple[int | None, str, str] | None:
    """(count, head noun, description) of a noun phrase; count None for "the box" or "box";
    None for the setting ("the sky") or no noun at all."""
    text = _LEAD.sub("", text.strip(" ,."))
    count, text = take_count(text)
    text = re.sub(r"^(?:the|this|that|these|those|its|their)\s+", "", text)
    words = re.findall(r"[a-z]+", _TRAIL.sub("", text).strip())
    if not words:
        return None
    noun = singular(words[-1])
    if noun in SETTINGS or noun in REGIONS:
        return None
    return count, noun, " ".join(words)
