"""Reading a scene description into a scene graph: objects, counts and spatial relations.

"three balloons over a boy, and a dog to the left of a cat" -> objects {balloon x3, boy, dog,
cat} and relations (balloon above boy), (dog left_of cat). Counts may be digits, number words
("twenty-one") or phrases ("a pair of", "two dozen"); shapes ("a circle", "a ring") are objects
like any other, while arrangements ("in a row", "stacked") are read as such. A sentence may chain
relations ("a circle above a square above a triangle"), add one with "which is", start a part
with a relation ("a ball above a box and below the box") or point back with "it" / "them" ("two
boxes with a ball between them", "a cake with a candle on top"), put the place first ("at the
top, a star"), or turn a relation round ("a well surrounded by stones", "a box containing a
ball"). "a red ball and a blue one" are two objects; "the ball" is one mentioned before. What cannot describe any layout (an object left of itself, "between" one
thing, a relation with nothing after it) raises :class:`LayoutError` with the reason, rather
than dropping a word; :mod:`anypix.agent.layout` solves the graph into blobs. The words live in
:mod:`anypix.agent.scene_words`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from anypix.agent.scene_words import (
    ADVERBIAL,
    ANNOUNCED,
    ARRANGEMENTS,
    BARE_SIDES,
    COUNT_PHRASES,
    ENCLOSURES,
    FRAMES,
    GROUPS,
    LINKING_ADVERBS,
    LINKING_VERBS,
    PATTERNS,
    REGION_WORDS,
    REGIONS,
    RELATIONS,
    SETTINGS,
    TEXTURES,
    VERTICAL_ADVERBS,
    alternation,
    fix_slips,
    number_value,
    singular,
    take_count,
)
from anypix.errors import LayoutError
from anypix.lexicon import lexicon

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
    rf"\b(?:(?:{LINKING_VERBS}|{LINKING_ADVERBS})\s+)+(?=(?:{_RELATION_WORDS})\b)"
)
_PART_END = r"(?=\s*(?:$|[,;]|\band\b))"
# "with a tree to the left", "with a ball underneath": the side is the object's before "with"
_WITH_SIDE = re.compile(rf"\b(with\s+[^,;]+?\s+(?:{alternation(BARE_SIDES)})){_PART_END}")
_WITH_RELATION = re.compile(rf"\b(with\s+[^,;]+?\s+(?:{_RELATION_WORDS})){_PART_END}")
_GROUP = re.compile(rf"\ban?\s+({alternation(GROUPS)})\s+of\s+")
_ARRANGEMENT = {name: re.compile(rf"\b(?:{words})\b") for name, words in ARRANGEMENTS.items()}
_FRAME = re.compile(
    rf"^(?:me\s+)?(?:(?:an?|the|one)\s+)?(?:{FRAMES})\s+(?:of|with|showing|where|in which|that "
    r"has|containing)\s+"
)
_ANNOUNCED = re.compile(rf"^[a-z0-9' ]*\b(?:{ANNOUNCED})\s*:\s*")
_PRONOUN = re.compile(r"^(?:it|them|him|her|this|that|this one|that one|these|those)$")
_REFLEXIVE = re.compile(r"^(?:itself|themselves|each other|one another)$")
_TRAIL = re.compile(
    rf"\s+(?:with|wearing|holding|made of|of|that|which|who|in the style of|painted|drawn|"
    rf"{LINKING_VERBS})\b.*$"
)
_LEAD = re.compile(
    r"^(?:(?:and|with|plus|then|also|first|next|finally|there (?:is|are)|there's|show|draw|paint|"
    r"generate|make|put|place|me|please|see|get|have|create|render|sketch|add)\s+)+"
)
# Parts of a sentence: ", ", "; ", "and", "plus", "while", and "with" when what follows points
# back ("a star with two circles below it").
_PARTS = re.compile(r"\s*(?:[,;]|\band\b|\bplus\b|\bwhile\b|\bwith\b(?=[^,;]*\b(?:it|them)\b))\s*")
_RELATIVE = re.compile(r"^(?:which|that|who)(?:\s+(?:is|are))?\s+")
_INVERTED = re.compile(r"^(?:it|them)\s+(\S.*)$")


# What the objects stand on, said as a look: "on a striped background", "against a dark
# backdrop", "on a background of dots", "on cool stripes", "on night checker", "on flat warm"
# (but "in the background" is a place: a region). It ends the description or a part of it.
_BACKGROUNDS = "|".join(sorted(PATTERNS | TEXTURES | {"background", "backdrop", "wallpaper"}))
_BACKDROP = re.compile(
    r"\s*,?\s*\b(?:(?:on|against|over)\s+(?:an?\s+|some\s+)?(?:(?!the\b)[a-z-]+\s+){0,3}"
    rf"(?:{_BACKGROUNDS})(?:\s+of\s+[a-z -]+?)?|on\s+flat\s+[a-z]+)(?=\s*(?:[,;]|$))"
)


def _normalise(description: str) -> str:
    text = " ".join(description.lower().replace("\u2019", "'").split()).strip(" .!?")
    text = fix_slips(text)
    text = _FRAME.sub("", text)
    text = _ANNOUNCED.sub("", text)
    # "a circle that is above a square" is "a circle above a square"; after a comma, "which is
    # above" is about the object named just before (read by _Reader)
    text = re.sub(r"(?<=\w)\s+(?:that|which|who)\s+(?:is|are)\s+(?=(?:" + _RELATION_WORDS
                  + r")\b)", " ", text)  # fmt: skip
    text = _BACKDROP.sub("", text)  # first: "on the right on cool stripes" is not "right on"
    text = _LINKING.sub("", text)
    text = re.sub(r"\b(?:to|on|at) (?:its|their) (left|right)\b", r"to the \1 of it", text)
    text = re.sub(r"\b(?:to|on|at) the (\w+)'s (left|right)\b", r"to the \2 of the \1", text)
    # "two stars at the sides": one on each side of what came before
    text = re.sub(r"\b(?:at|on) (?:the|both|either) (?:sides?|ends?)\b(?!\s+of)",
                  "on either side of it", text)  # fmt: skip
    text = _WITH_SIDE.sub(r"\1 of it", text)
    text = _WITH_RELATION.sub(r"\1 it", text)
    # "between a sofa and a plant": that "and" belongs to the relation, not the list
    # ("between two circles and a square below them": that one is a list)
    return re.sub(r"\b((?:between|flanked by)\s+(?!(?:two|2|a pair of|a couple of|both)\b)"
                  r"[^,;]+?)\s+and\s+", r"\1 & ", text)  # fmt: skip


def scene_graph(description: str) -> SceneGraph:
    """Objects, counts and relations of a description (a small rule-based reader); raises
    :class:`LayoutError` for relations that cannot be read as a layout."""
    text = _normalise(description)
    graph = SceneGraph()
    group = _GROUP.search(text)
    if group:  # "a row of five stars": five stars in a row
        graph.arrangement = GROUPS[group.group(1)]
        text = text[: group.start()] + text[group.end() :]
    for name, pattern in _ARRANGEMENT.items():
        if pattern.search(text):
            graph.arrangement = graph.arrangement or name
            text = pattern.sub("", text)
    parts = [part.strip() for part in _PARTS.split(text) if part.strip()]
    reader = _Reader(graph, contrasted=len(parts) > 1)
    for part in parts:
        reader.read(part)
    if reader.pending and noun_phrase(reader.pending[-1]) is not None:
        words = " ".join(reader.pending)
        raise LayoutError(f"'{words}' says where but not what is there",
                          f"name the object, e.g. 'a star {words}'")  # fmt: skip
    return graph


_REGION = (
    rf"(?:far\s+|very\s+)?({alternation(REGIONS)})(?:\s+(?:side|corner|edge|half|part))?"
    rf"(?:\s+of the (?:image|picture|scene|canvas))?"
)
_REGION_AFTER = re.compile(rf"(?:\s*,?\s*(?:on|at|in|to|towards)\s+(?:the\s+)?|\s+){_REGION}$")
_REGION_FIRST = re.compile(  # but "to the right (side) of a ring" is a relation
    rf"^(?:on|at|in|to|towards)\s+the\s+{_REGION}(?!(?:\s+(?:hand|side|corner|edge))*\s+of\b)"
    r"(?:\s*,\s*|\s+|$)"
)


def _absolute(text: str) -> tuple[str, tuple[float | None, float | None]]:
    """Split "a dog on the left", "at the top a star" or "a circle left" into the object and
    its canvas region."""
    after = _REGION_AFTER.search(text)
    if after is not None:
        return text[: after.start()], REGIONS[after.group(1)]
    first = _REGION_FIRST.match(text)
    if first is not None:
        return text[first.end() :], REGIONS[first.group(1)]
    return text, (None, None)


class _Reader:
    """Reads the parts of one description into a graph, remembering what the previous part was
    about so that "and below the box", "which is above a square" and "it" have a subject."""

    def __init__(self, graph: SceneGraph, contrasted: bool) -> None:
        self.graph = graph
        self.contrasted = contrasted  # several parts: "a circle above and a square below"
        self.subject: SceneObject | None = None  # the first object of the previous part
        self.last: SceneObject | None = None  # the last object of the previous part
        self.earlier: list[SceneObject] = []  # the objects named before this part
        self.pending: list[str] = []  # "on a table, three apples": the relation waits for them
        self.region: tuple[float | None, float | None] = (None, None)  # "on the left, a star"
        self.referent: SceneObject | None = None  # what "it" stood for last ("to its left ...")

    def read(self, part: str) -> None:
        self.earlier = list(self.graph.objects)
        part, region = _absolute(part)
        if not part.strip():
            self.region = region if region != (None, None) else self.region
            return
        relative = _RELATIVE.match(part)
        part = part[relative.end() :] if relative else part
        pieces = [p.strip(" ,.") for p in _RELATION_SPLIT.split(part)]
        pieces, region = self._dangling(pieces, region)
        inverted = _INVERTED.match(pieces[2]) if len(pieces) == 3 and not pieces[0] else None
        if inverted:  # "and to its right a square": the square is right of what came before
            pieces = [inverted.group(1), pieces[1], "it"]
        subject = self._subject(pieces, self.last if relative else None)
        if subject is None:
            return
        region, self.region = (self.region if region == (None, None) else region), (None, None)
        if region != (None, None):
            subject.region = region
        if self.pending:
            pending, self.pending = self.pending, []
            self._chain(subject, pending)
        last = self._chain(subject, pieces[1:])
        self.subject, self.last = subject, last

    def _restated(self, text: str) -> SceneObject | None:
        """The previous part's last object named again as this part's subject: "a star above a
        moon, a moon above a box" is one moon."""
        phrase, last = noun_phrase(text), self.last
        if phrase is None or last is None or last is self.subject:
            return None
        count, noun, description = phrase
        return (
            last
            if (noun, description, count or 1) == (last.noun, last.description, last.count)
            else None
        )

    def _dangling(
        self, pieces: list[str], region: tuple[float | None, float | None]
    ) -> tuple[list[str], tuple[float | None, float | None]]:
        """A relation word that ends a part with nothing after it: a place on the canvas when
        the description contrasts objects ("a circle above and a square below"), an adverb
        ("a fish swimming around"), or else left for _chain to refuse ("a star above")."""
        if len(pieces) < 3 or pieces[-1]:
            return pieces, region
        word = pieces[-2]
        if word in VERTICAL_ADVERBS and self.contrasted and region == (None, None):
            return pieces[:-2], REGIONS[VERTICAL_ADVERBS[word]]
        return (pieces[:-2], region) if word in ADVERBIAL else (pieces, region)

    def _subject(self, pieces: list[str], relative_to: SceneObject | None) -> SceneObject | None:
        """What a part is about: the object before "which is"; its first noun phrase; for a
        part that starts with a relation ("and below the box"), the previous part's subject,
        or, when there is none yet, the next part's ("on a table, three apples")."""
        if relative_to is not None:
            return relative_to
        if pieces[0]:
            return self._restated(pieces[0]) or self._mention(pieces[0])
        if len(pieces) > 1 and self.subject is None:
            self.pending = pieces[1:]
        return self.subject if len(pieces) > 1 else None

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
                return self._between(current, target)
            other = self._target(current, words, target)
            if other is None:
                continue
            for relation in relations:
                self._relate(current, relation, other)
            current = other
        return current

    def _relate(self, a: SceneObject, relation: str, b: SceneObject) -> None:
        if relation.startswith("~"):  # the other way round: "a circle surrounded by squares"
            a, b, relation = b, a, relation[1:]
        if relation == "between":  # "two rings on either side of a star": one on each side
            b.count = max(b.count, 2)
            self.graph.relations.append((a.key, "between", b.key, b.key))
            return
        if relation == "around" and a.count == 1 and a.noun in ENCLOSURES:
            a, b, relation = b, a, "inside"  # "a ring around a star": the star is inside it
        self.graph.relations.append((a.key, relation, b.key, None))

    def _target(self, subject: SceneObject, words: str, target: str) -> SceneObject | None:
        if _PRONOUN.match(target):
            many = self.last is not None and self.last.count > 1 and self.last is not subject
            if target in ("them", "these", "those") and many:
                return self.last  # "a cross between two circles and a square below them"
            if self.referent is None or self.referent is subject:
                self.referent = self.subject if self.subject is not subject else self.last
            return self.referent
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

    def _between(self, first: SceneObject, others: str) -> SceneObject:
        """Relates ``first`` between the others; returns the last of them."""
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
            return flank
        if len(found) == 2 and found[0] is not None and found[1] is not None:
            self.graph.relations.append((first.key, "between", found[0].key, found[1].key))
            return found[1]
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
        if noun in ("one", "ones"):  # "a red circle above a blue one"
            if not self.graph.objects:
                return None
            noun = self.graph.objects[-1].noun
            description = re.sub(r"\bones?$", noun, description)
        known = self.graph.latest(noun)
        if known is not None and count is None:
            return known
        return self.graph.add(SceneObject(noun, count or 1, description))


def noun_phrase(text: str) -> tuple[int | None, str, str] | None:
    """(count, head noun, description) of a noun phrase, the description of one of them ("two
    red circles": "red circle"); count None for "the box" or "box"; None for the setting ("the
    sky") or no noun at all."""
    text = _LEAD.sub("", text.strip(" ,."))
    article = re.match(r"an?\s", text) is not None
    count, text = take_count(text)
    text = re.sub(r"^(?:the|this|that|these|those|its|their)\s+", "", text)
    words = re.findall(r"[a-z]+", _TRAIL.sub("", text).strip())
    if not words:
        return None
    noun = singular(words[-1])
    # "two squares, one red and one blue": a colour alone names no object ("an orange" does)
    colour = words[-1] in lexicon()["colors"] and not article
    # "on stripes", "on warm dots": a pattern the objects stand on ("three dots" are objects)
    pattern = words[-1] in PATTERNS and count is None and not article
    if noun in SETTINGS or noun in REGIONS or colour or pattern:
        return None  # "a bird in the sky"
    return count, noun, " ".join([*words[:-1], noun])  # one blob each: "red circle", not "circles"
