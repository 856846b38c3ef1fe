"""The vocabulary of scene descriptions: counts, canvas regions, relation words, shapes, plurals
and the slips people make typing them. :mod:`anypix.agent.scene` reads descriptions with these
tables; a new word goes in a table here, not in a regex there."""

from __future__ import annotations

import re
from collections.abc import Iterable

NUMBER_UNITS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
NUMBER_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
               "eighty": 80, "ninety": 90}  # fmt: skip
NUMBER_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# Counting phrases that are not number words ("a" is one; "a dozen" is twelve).
COUNT_PHRASES = {
    "a": 1, "an": 1, "one": 1, "single": 1, "a single": 1, "one single": 1, "a lone": 1,
    "a lonely": 1, "a solitary": 1, "just one": 1, "only one": 1, "a pair of": 2, "pair of": 2,
    "a couple of": 2, "couple of": 2, "a couple": 2, "both": 2, "twin": 2, "a trio of": 3,
    "several": 3, "a few": 3, "few": 3, "some": 3, "a dozen": 12, "dozen": 12,
    "half a dozen": 6, "dozens of": 24, "a hundred": 100, "hundreds of": 200, "a thousand": 1000,
    "thousands of": 2000, "a million": 1_000_000, "millions of": 2_000_000,
}  # fmt: skip
# Group words a number can multiply: "two dozen" is 24, "three pairs of" is 6.
COUNT_MULTIPLIERS = {"dozen": 12, "dozens of": 12, "pairs of": 2, "pair of": 2, "couples of": 2}

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

# Relation words -> the relations they state, most specific first ("on top of" before "on",
# "in between" before "in"); "A under B" is "A below B", "to the upper left of" is two relations.
_SIDE = r"(?:to the |on the |at the |towards the )?"
RELATIONS: list[tuple[str, tuple[str, ...]]] = [
    (rf"{_SIDE}(?:upper|top)[- ]left(?: side)? of", ("above", "left_of")),
    (rf"{_SIDE}(?:upper|top)[- ]right(?: side)? of", ("above", "right_of")),
    (rf"{_SIDE}(?:lower|bottom)[- ]left(?: side)? of", ("below", "left_of")),
    (rf"{_SIDE}(?:lower|bottom)[- ]right(?: side)? of", ("below", "right_of")),
    (rf"{_SIDE}left(?:[- ]hand)?(?: side)? of", ("left_of",)),
    (rf"{_SIDE}right(?:[- ]hand)?(?: side)? of", ("right_of",)),
    (r"on top of|above|over|atop|higher than|up from", ("above",)),
    (r"below|under|underneath|beneath|lower than|down from", ("below",)),
    (r"in between|between|flanked by|sandwiched between", ("between",)),
    (r"on either side of|on both sides of|either side of|at either side of", ("~between",)),
    # passive and reversed words: "a circle surrounded by squares" is "squares around a circle"
    (r"surrounded by|encircled by|ringed by", ("~around",)),
    (r"containing|enclosing", ("~inside",)),
    (r"next to|beside|alongside|by|near|close to|adjacent to", ("next_to",)),
    (r"in front of", ("in_front_of",)),
    (r"behind|in back of", ("behind",)),
    (r"around|surrounding|encircling|circling|orbiting", ("around",)),
    (r"inside of|inside|within|into|in", ("inside",)),
    (r"onto|on", ("on",)),
]
# Words that sit between an object and its relation and say nothing about the layout: "a kite
# flying high above a tree", "a cat is sitting on top of a box", "a ball placed right next to".
LINKING_VERBS = (
    "is|are|was|were|sits|sitting|stands|standing|flying|flies|hanging|hangs|lying|lies|"
    "floating|floats|perched|resting|rests|hovering|hovers|sleeping|swimming|running|walking|"
    "playing|parked|placed|positioned|located|shining|rising|growing|leaning|nested|tucked|"
    "hidden|centred|centered|sat|kept|scattered|arranged|spread|dotted|grouped|clustered|gathered|"
    "waiting|stacked|piled|glowing|drawn|shown|appearing"
)
LINKING_ADVERBS = "high|low|just|right|directly|slightly|far|way|up|down|somewhere|neatly|exactly"

# Nouns that are the scene, not objects in it ("a bird in the sky"). Shapes such as "circle" are
# objects; "in a circle" as an arrangement is removed before reading.
SETTINGS = {
    "sky", "grass", "field", "beach", "ground", "water", "sea", "ocean", "snow", "desert",
    "forest", "room", "street", "park", "garden", "space", "night", "sunset", "background",
    "meadow", "lake", "river", "city", "road", "floor", "row", "line", "pile", "group", "grid",
    "style", "storm", "rain", "fog", "column", "stack", "canvas", "page", "frame", "scene",
    # how it is drawn: "a lighthouse in a storm, oil painting"
    "painting", "sketch", "drawing", "photo", "photograph", "illustration", "watercolour",
    "watercolor", "artwork", "cartoon", "render", "rendering",
    # what a background is made of
    "backdrop", "wallpaper", "gradient", "pattern", "texture", "checkerboard", "plaid", "tartan",
}  # fmt: skip
# Patterns said in the plural are a background ("a ring on warm stripes"), unless counted or
# with an article ("three dots", "a few dots"): see scene.noun_phrase.
PATTERNS = {"stripes", "dots", "spots", "checks", "checkers", "squiggles", "speckles", "tiles"}
# What else a background is made of, said after "on" at the end ("a ring on night checker").
TEXTURES = {"checker", "checkerboard", "gradient", "noise", "plaid", "tartan", "pattern", "texture"}
# "a picture of / with ...": the picture is the frame, what follows is the scene.
FRAMES = (
    r"picture|image|photo|drawing|painting|illustration|scene|canvas|render|composition|portrait"
)
# A list announced before a colon ("two things: a ring and a box", "the following: ..."): the
# announcement names no object of its own.
ANNOUNCED = r"things|objects|shapes|items|elements|following|these"
# Sides said without their object, which "with" supplies: "a house with a tree to the left".
BARE_SIDES = ("on top", "in front", "to the left", "to the right", "at the back")
# Group nouns that say how their members stand: "a row of five stars", "a stack of boxes".
GROUPS = {
    "row": "row", "line": "row", "column": "column", "stack": "column", "tower": "column",
    "pile": "grid", "group": "grid", "cluster": "grid", "bunch": "grid", "ring": "grid",
    "circle": "grid", "grid": "grid",
}  # fmt: skip
# Relation words that are also adverbs, so at the end of a phrase they relate nothing ("a fish
# swimming around", "a hat with a feather on"); any other relation word there is refused.
ADVERBIAL = {"around", "behind", "over", "by", "near", "in", "on", "inside", "within", "alongside"}
# ... and the ones that say where on the canvas when a description contrasts two objects ("a
# circle above and a square below").
VERTICAL_ADVERBS = {"above": "top", "over": "top", "below": "bottom", "under": "bottom",
                    "underneath": "bottom", "beneath": "bottom"}  # fmt: skip
# How repeated objects are arranged, and the words that say so.
ARRANGEMENTS = {
    "row": r"(?:in|on|arranged in|lined up in|forming)\s+an?\s+(?:row|line)|side by side|"
    r"(?:from\s+)?left to right|in a horizontal line|lined up|next to each other|beside each other|next to one another",
    "column": r"(?:in|arranged in)\s+an?\s+(?:column|vertical line|stack|tower)|stacked(?: up)?"
    r"(?: on top of (?:each other|one another))?|on top of (?:each other|one another)|one above "
    r"the other|one on top of the other|(?:from\s+)?top to bottom",
    "grid": r"(?:in|arranged in)\s+an?\s+(?:grid|circle|ring|pile)|(?:forming|making|in the "
    r"shape of)\s+an?\s+(?:circle|ring|square|triangle|heart|star|grid|pattern)",
}
# Things that enclose: "a ring around a star" has the star inside it, while "chairs around a
# table" stand about it.
ENCLOSURES = {"ring", "circle", "square", "box", "frame", "border", "fence", "wall", "moat",
              "halo", "wreath", "hedge", "oval", "ellipse", "rectangle", "triangle", "heart"}  # fmt: skip
# Shapes and the relation words as typed, for correcting one slip ("circel", "sqaure", "bellow").
SHAPES = (
    "circle", "square", "ball", "box", "star", "ring", "ellipse", "oval", "rectangle", "triangle",
    "heart", "diamond", "cube", "sphere", "dot", "moon", "cross", "hexagon", "pentagon", "octagon",
    "cylinder", "cone", "pyramid", "crescent", "arrow", "block", "disc", "disk", "polygon",
)  # fmt: skip
_RELATION_WORDS = ("above", "below", "under", "underneath", "beneath", "between", "beside",
                   "behind", "inside", "left", "right", "next", "top", "bottom", "middle",
                   "centre", "center", "front", "around", "over")  # fmt: skip
PHRASE_SLIPS = {
    r"next too|nextto|next ot": "next to", r"ontop of|on-top of|on top off": "on top of",
    r"infront of|in-front of|in front off": "in front of", r"inbetween": "in between",
    r"along side": "alongside", r"left off": "left of", r"right off": "right of",
    r"(?:above|over) and (?:to the |on the )?(left|right) of": r"to the upper \1 of",
    r"(?:below|under) and (?:to the |on the )?(left|right) of": r"to the lower \1 of",
}  # fmt: skip

_IRREGULAR = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "leaves": "leaf", "knives": "knife",
    "wolves": "wolf", "shelves": "shelf", "loaves": "loaf", "calves": "calf", "halves": "half",
    "scarves": "scarf", "sheep": "sheep", "fish": "fish", "deer": "deer", "glasses": "glass",
    "buses": "bus", "dice": "die", "cacti": "cactus", "oxen": "ox", "puppies": "puppy",
}  # fmt: skip
_NOT_PLURAL = ("ss", "us", "is", "ous")


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


def fix_slips(text: str) -> str:
    """Phrase slips ("next too") and one-slip shape or relation words ("circels" -> "circles")."""
    for slip, fixed in PHRASE_SLIPS.items():
        text = re.sub(rf"\b(?:{slip})\b", fixed, text)
    return re.sub(r"[a-z]{4,}", lambda m: _fix_word(m.group(0)), text)


def _fix_word(word: str) -> str:
    known = (*SHAPES, *_RELATION_WORDS)
    if word in known or singular(word) in known:
        return word
    for stem, suffix in ((word, ""), (word[:-1], "s") if word.endswith("s") else (word, "")):
        found = [k for k in known if _one_slip(stem, k)]
        if len(found) == 1:
            return found[0] + suffix
    return word


def _one_slip(word: str, known: str) -> bool:
    """An adjacent transposition ("sqaure"), a doubled letter ("bellow") or a letter missing from
    a word of six letters or more ("cirle")."""
    if len(word) == len(known):
        diff = [i for i, (a, b) in enumerate(zip(word, known, strict=True)) if a != b]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == known[diff[1]] and word[diff[1]] == known[diff[0]]  # fmt: skip
    if len(word) == len(known) + 1:  # one letter doubled
        return any(word[:i] + word[i + 1 :] == known and word[i] == word[i - 1]
                   for i in range(1, len(word)))  # fmt: skip
    if len(word) + 1 == len(known) and len(known) >= 6:  # one letter left out
        return any(known[:i] + known[i + 1 :] == word for i in range(len(known)))
    return False


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words, longest first."""
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


# -- counts -----------------------------------------------------------------------------------------

_NUMBER_WORD = (
    rf"(?:(?:{'|'.join(NUMBER_TENS)})(?:[- ](?:{'|'.join(NUMBER_UNITS[1:10])}))?|"
    rf"{'|'.join(NUMBER_UNITS[::-1])})(?:\s+(?:{'|'.join(NUMBER_SCALES)}))?"
)
_COUNT = re.compile(
    rf"^(?:(\d+)|({_NUMBER_WORD})|({alternation(COUNT_PHRASES)}))"
    rf"(?:\s+({alternation(COUNT_MULTIPLIERS)}))?\s+",
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
