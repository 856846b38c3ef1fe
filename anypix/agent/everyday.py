"""Everyday phrasing -> the grammar's canonical clauses, before the clause readers see them.

People write "the trash bins should be gone", "have the cat wear a bow tie", "what if the car was
blue?", "could you get the lamp out of [room]?" or "remvoe the car". Each rule below rewrites one
such pattern into a clause the readers in :mod:`anypix.agent.clauses` already know ("remove the
trash bins", "put a bow tie on the cat", "make the car blue", "remove the lamp from [room]",
"remove the car"). A rule fires only on a whole clause it matches; anything else is left as
written, so the grammar still refuses what it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache

from anypix.agent.phrases import (
    COMPARATIVES,
    DEFINITE,
    DEGREES,
    LOOKS,
    REF,
    color_split,
    lexicon,
    verb_of,
    words,
)

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
_I = re.IGNORECASE
_BY = re.compile(r"^by\s+", re.IGNORECASE)  # "drawn by [moebius]" is "like [moebius]"

# What "X should be ..." (and "let X be ...", "can X be ...?") asks for, by what follows "be".
_PLACE_WORDS = (
    r"(?:on|at|in|to|towards?)\s+the\s+\w+(?:\s+\w+)?(?:\s+(?:side|corner|edge))?|"
    r"(?:further|farther|more|a bit|a little|slightly)?\s*(?:up|down|left|right|higher|lower)"
    r"(?:\s+up)?"
)
_WEARABLE_VERBS = r"wear|wearing|hold|holding|carry|carrying|have on|sport|sporting"
_OUT_VERBS = r"scrub|rub|wipe|blot|paint|clone|edit|photoshop|crop|blur|cut"
# what "clean up" takes away: dirt, not the thing it is on ("clean up the room" is no removal)
_DIRT = (r"stains?|marks?|smudges?|smears?|dirt|dust|spots?|specks?|scratch(?:es)?|blemish(?:es)?|"
         r"crumbs?|litter|trash|rubbish|mess|graffiti|fingerprints?|scuffs?|blotch(?:es)?|splotch(?:es)?|"
         r"grime|mud|debris|lint|hairs?")  # fmt: skip
_NICE = r"(?:really\s+|so\s+|way\s+)?(?:cool|nice|nicer|fun|great|lovely|awesome|neat|better|cute|sweet|good|prettier|cooler)"
# "it'd be cool ...", "this would look nicer ...": a wish for the picture, said as a remark
_WOULD_BE = rf"^(?:it|this|that)\s*(?:'d|would)\s+(?:be|look)\s+(?:{_NICE})\s+"
_BRIGHTEN = r"brighten|darken|lighten|warm|cool|liven|soften|sharpen|deepen|cheer"
_MORE_COLOUR = {"bluer": "blue", "redder": "red", "greener": "green", "yellower": "yellow",
                "pinker": "pink", "whiter": "white", "blacker": "black", "greyer": "grey",
                "grayer": "gray", "browner": "brown", "oranger": "orange"}  # fmt: skip
_BRIGHTER = {"bright": "brighter", "dark": "darker", "light": "lighter", "warm": "warmer",
             "cool": "cooler", "liv": "livelier", "soft": "softer", "sharp": "sharper",
             "deep": "deeper", "cheer": "cheerier"}  # fmt: skip


def _should_be(obj: str, state: str) -> str:
    """The clause for "<obj> should be <state>"."""
    state = re.sub(r"\s+instead$", "", state.strip(), flags=_I)
    if re.fullmatch(r"gone|removed|erased|deleted|away|out|hidden", state, _I):
        return f"remove {obj}"
    state = re.sub(r"^(?:parked|placed|standing|sitting|moved|put)\s+", "", state, flags=_I)
    if re.fullmatch(_PLACE_WORDS, state, _I):
        return f"move {obj} {state}"
    if re.fullmatch(rf"(?:{_WEARABLE_VERBS})\s+.+", state, _I):
        return f"put {state.split(None, 1)[1]} on {obj}"
    split = color_split(state)
    if split is not None and not split[0].strip():
        return f"make {obj} {state}"
    if re.match(r"(?:an?|another|some)\s+(?!bit\b|little\b|lot\b|tad\b)", state, _I):
        return f"replace {obj} with {state}"
    return f"make {obj} {state}"


# What a picture "needs a little" of that is no thing to draw: "it needs a little colour".
_QUALITIES = (
    r"colou?r|light|contrast|warmth|life|texture|detail|depth|brightness|saturation|drama|pop|punch"
)


def _needs(image: str, what: str) -> str:
    """ "it needs a sun" and "this needs a little fountain" add one; "it needs more contrast",
    "a little colour" and "a bit brighter" are a quality, not a thing."""
    if re.match(rf"(?:more|less)\s+\w+$|to be\s+|(?:a bit|a little)\s+(?:more|less|of|\w+er|{_QUALITIES})\b",
                what, _I):  # fmt: skip
        return f"make {image} " + re.sub(r"^to be\s+", "", what, flags=_I)
    # "it", "this" and "the picture" are the image being edited, which needs no naming
    return f"add {what} to {image}" if image.startswith("[") else f"add {what}"


def _should_have(obj: str, what: str) -> str:
    """ "the girl should have red hair" recolours her hair; "the dog should have a hat" puts one
    on him."""
    parts = what.split()
    for cut in range(len(parts) - 1, 0, -1):  # the longest colour phrase leading "red hair"
        head = color_split(" ".join(parts[:cut]))
        if head is not None and not head[0].strip():
            return f"make {obj}'s {' '.join(parts[cut:])} {head[1]}"
    return f"put {what} on {obj}"


# Plural nouns that name a quality of the whole picture, not things to add ("more details").
_QUALITY_PLURALS = {"details", "colours", "colors", "shadows", "highlights", "tones", "textures",
                    "contrasts", "lights", "hues", "shades", "layers", "vibes", "feels"}  # fmt: skip


def _countable(word: str) -> bool:
    """ "birds", "trees", "clouds": things to add more of (a plural noun that is no quality)."""
    word = word.lower()
    return (
        word.endswith("s")
        and not word.endswith(("ss", "ous", "ness"))
        and word not in _QUALITY_PLURALS
    )


_WISH = r"(?:i|we)\s*(?:'d like|would like|'d love|would love|want|need)"  # "i'd love", "we need"
# Words that cannot start a bare noun phrase, besides the lexicon's verbs and the comparatives.
_NOT_A_NOUN = {"it", "this", "that", "these", "those", "there", "here", "i", "we", "you", "let",
               "please", "the", "my", "your", "his", "her", "its", "their", "our", "make", "what",
               "how", "can", "could", "would", "should", "is", "are", "was", "were", "do", "does"}  # fmt: skip


@cache
def _verbs(one_word: bool = False) -> frozenset[str]:
    """Every verb of the lexicon ("take out" too, unless ``one_word``)."""
    found = {v for group in lexicon()["verbs"].values() for v in group}
    return frozenset(v for v in found if not (one_word and " " in v))


def _bare_things_by() -> Rule:
    """ "sunflowers along the fence", "graffiti on the wall", "cows grazing by the barn": things
    said bare, by something the picture has (not by a place of the canvas: "dogs on the left"
    may describe a new picture, so it is still asked about)."""
    starts = "|".join(map(re.escape, sorted(_verbs() | _NOT_A_NOUN, key=len, reverse=True)))
    not_first = f"{starts}|{COMPARATIVES}"
    pattern = re.compile(
        rf"^(?!.*\[)(?!(?:{not_first})\b)((?:\w+\s+){{0,2}}\w+(?:\s+\w+ing)?\s+{_NEAR}\s+"
        rf"(?:the|her|his|their|its)\s+(?!{PLACES}|style\b).+)$",
        _I,
    )
    return pattern, lambda m: f"add {m.group(1)}"


def _audio_name(clause: str, assets: Mapping[str, str]) -> str | None:
    """The one attached sound, when the clause does not name it already."""
    audio = [name for name, kind in assets.items() if kind == "audio"]
    return audio[0] if len(audio) == 1 and f"[{audio[0]}]" not in clause else None


# Parts of a scene that are there in every picture of one: "with a blue sky" recolours, not adds.
_PARTS = {"sky", "sea", "water", "grass", "ground", "floor", "walls", "wall", "ceiling", "background",
          "hair", "eyes", "lake", "river", "field", "road", "sand", "clouds", "trees", "leaves", "snow"}  # fmt: skip
_SOME = r"(?:an?|some|more|a few|several|another|two|three|four|\d+)"
PLACES = r"(?:(?:top|bottom|upper|lower|far)\s+)?(?:left|right|top|bottom|middle|centre|center|corner|side|edge|foreground|background|front|back)\b"
_NEAR = r"(?:on|over|in|into|onto|at|near|by|under|above|beside|behind|next to|around|across|along)"
# Phrases that edit the picture there is without an edit verb; read only when an image is there.
_ON_A_PICTURE: list[Rule] = [
    # "could we have a dog sleeping on the rug"
    (re.compile(rf"^(?:have|get|see)\s+({_SOME}\s+.+)$", _I), lambda m: f"add {m.group(1)}"),
    # "one more dog", "another bench", "an extra chair": one more of a thing (not "another one",
    # "another version": a variation)
    (re.compile(r"^((?:(?:one|two|three|a couple|a few)\s+more|another|an extra|a second|a third)\s+"
                r"(?!(?:of\s+)?(?:one|ones|those|these|them|like|version|variation|variant|take|option|"
                r"try|go|time|look|style|colou?r)s?\b).+)$", _I),
     lambda m: f"add {m.group(1)}"),
    (re.compile(r"^(?:another|one more)(?:\s+one)?(?:\s+like (?:this|that|it))?$", _I),
     lambda m: "make a variation of it"),
    # "plus a moon", "now with a little boat on the water", "minus the lamp post", "no people"
    (re.compile(r"^(?:plus|with)\s+(.+)$", _I), lambda m: _with(m.group(1))),
    (re.compile(r"^(?:minus|without|no)\s+(?!,)(.+)$", _I), lambda m: f"remove {m.group(1)}"),
    # "in the style of monet", "try it in watercolour", "as a pencil sketch"
    # (a reference's style, "in the style of [x]", is read where it stands, by the clause it ends)
    (re.compile(rf"^(?:try\s+)?(?:it\s+|this\s+)?(in|as)\s+(?!the\s+{PLACES})([^\[]+)$", _I),
     lambda m: f"restyle it {m.group(1)} {m.group(2)}"),
    # "let's see it at dusk", "see it in winter": what follows is the edit
    (re.compile(r"^(?:(?:let'?s|let us|let me|lemme)\s+)?(?:see|try|have)\s+(?:it|this|that|the (?:image|picture|photo))\s+"
                r"((?:at|in|as|with|without|during|on a)\s+.+)$", _I),
     lambda m: m.group(1)),
    # "put the boat more to the left", "set the lamp a bit further right": a move
    (re.compile(rf"^(?:put|place|set|have)\s+((?:{DEFINITE})\s+.+?)\s+((?:(?:{DEGREES})\s+)?(?:more|further|farther)\s+"
                r"(?:to(?:wards)? the\s+)?(?:left|right|up|down|top|bottom)(?:\s+(?:side|edge))?)$", _I),
     lambda m: f"move {m.group(1)} {m.group(2)}"),
    # "spin up a few more like this", "a couple more like that"
    (re.compile(r"^(?:(?:spin|whip|knock|churn|crank|run)\s+(?:up|out|off)\s+|give me\s+|make\s+|show me\s+)?"
                r"(?:a few|a couple(?: of)?|some|two|three|four|several|a bunch|[2-9])\s+more(?:\s+(?:ones?|versions?))?\s+"
                r"(?:like|of)\s+(?:this|that|it|these|those|them)$", _I),
     lambda m: "make a variation of it"),
    # "can I see it with a blue sky", "could we see this at night": what follows is the edit
    (re.compile(r"^(?:can|could|may)\s+(?:i|we)\s+see\s+(?:it|this|that|the (?:image|picture|photo))\s+(.+)$", _I),
     lambda m: m.group(1)),
    # "golden hour", "watercolour please", "at night", "rainy day version", "more like a painting"
    (re.compile(rf"^(?:an?\s+|in\s+)?((?:at\s+)?(?:{LOOKS}))(?:\s+(?:version|edition|style|look|scene|light|lighting|weather))?$", _I),
     lambda m: f"make it look {m.group(1)}"),
    (re.compile(r"^(?:an?\s+)?(?!(?:another|different|new|other|alternative)\b)(.+?)\s+(?:version|edition)$", _I),
     lambda m: f"make it look {m.group(1)}"),
    (re.compile(r"^(?:make it\s+)?more like\s+(?!(?:this|that|it)\b)(.+)$", _I),
     lambda m: f"make it look like {m.group(1)}"),
    # "a moon, upper right", "sun, top left corner": a thing, then where
    (re.compile(rf"^({_SOME}\s+[^,\[]+?|\w+),\s*(?:(?:in|at|on|to)\s+the\s+)?({PLACES}(?:\s+(?:corner|side))?)$", _I),
     lambda m: f"add {m.group(1)} in the {m.group(2)}"),
    # "more birds" adds some; "more contrast", "less saturated", "a bit brighter" are a quality
    (re.compile(r"^((?:a\s+few\s+|a\s+lot\s+|lots\s+|many\s+|even\s+)?more\s+(\w+))$", _I),
     lambda m: f"add {m.group(1)}" if _countable(m.group(2)) else f"make it {m.group(1)}"),
    (re.compile(rf"^((?:(?:{DEGREES})\s+)?"
                rf"(?:(?:more|less)\s+\w+|{COMPARATIVES}))$", _I),
     lambda m: f"make it {m.group(1)}"),
    # "the sky is too dark", "it looks too busy", "too much red": less of it
    (re.compile(r"^(.+?)\s+(?:is|are|looks?|seems?|feels?)\s+(?:way\s+|far\s+|a bit\s+)?too\s+(\w+)$", _I),
     lambda m: f"make {m.group(1)} less {m.group(2)}"),
    (re.compile(r"^(?:it'?s|this is|that'?s|it is)\s+(?:way\s+|far\s+|a bit\s+|just\s+)?too\s+(\w+)$", _I),
     lambda m: f"make it less {m.group(1)}"),
    (re.compile(r"^(?:there(?:'s| is)\s+)?(?:way\s+|far\s+)?too\s+much\s+(\w+)$", _I),
     lambda m: f"make it less {m.group(1)}"),
    # "... and the house painted yellow", "... and the bins gone": a wish's second object, its
    # verb said once before it ("I'd like the car gone and the house painted yellow")
    (re.compile(rf"^((?:{DEFINITE})\s+.+?)\s+(?:painted|coloured|colored|dyed|turned|made)\s+(.+)$", _I),
     lambda m: _should_be(m.group(1), m.group(2))),
    (re.compile(rf"^((?:{DEFINITE})\s+.+?)\s+(?:gone|removed|erased|deleted)$", _I),
     lambda m: f"remove {m.group(1)}"),
    # "duplicate the bird": one more of it
    (re.compile(r"^(?:duplicate|clone|copy)\s+(?:the\s+)?(.+)$", _I), lambda m: f"add another {m.group(1)}"),
    # "same but at night", "the same thing but in winter", "this but cartoon", "I like it, but darker",
    # "again, only this time in fog"
    (re.compile(r"^(?:i (?:like|love) (?:it|this|that)|(?:the\s+)?same(?:\s+(?:thing|scene|picture|image|one|again))?|"
                r"this|that|it|this one|again|one more time)(?:\s+again)?,?\s+(?:but|only)(?:\s+(?:this time|now))?,?\s+(.+)$", _I),
     lambda m: _but(m.group(1))),
    # "sunset vibes", "autumn colours", "an 80s aesthetic": a look for the whole picture
    (re.compile(r"^(?:an?\s+)?(.+?)\s+(?:vibes?|mood|feel|look|aesthetic|colou?rs|tones|palette)$", _I),
     lambda m: f"make it look {m.group(1)}"),
    # "everything in black and white", "snow everywhere"
    (re.compile(r"^(?:everything|it all|all of it)\s+(?:in|as)\s+(.+)$", _I),
     lambda m: f"restyle it in {m.group(1)}"),
    (re.compile(r"^(\w+)\s+(?:everywhere|all over|over everything)$", _I),
     lambda m: f"make it look like {m.group(1)} everywhere"),
    # "the dog in a superhero cape", "the man wearing a crown": something put on what is there
    (re.compile(r"^(the\s+\w+(?:\s+\w+)?)\s+(?:in|wearing|with)\s+(an?\s+.+)$", _I),
     lambda m: f"put {m.group(2)} on {m.group(1)}"),
    # "a hat on the dog please", "some birds flying over the lake": a thing by what is there
    # (not a place of the canvas: "a red ball on the left" may describe a new picture)
    # (nor a description with a reference's style: "a forest, in the style of [monet]")
    # ("draw a crown on the king": drawn onto what the picture has, not a new picture)
    (re.compile(rf"^(?:(?:draw|paint|sketch|doodle)\s+)?(?!.*\[)({_SOME}\s+.+?\s+{_NEAR}\s+"
                rf"(?:the|her|his|their|its)\s+(?!{PLACES}|style\b).+)$", _I),
     lambda m: f"add {m.group(1)}"),
]  # fmt: skip


def _toned(quality: str) -> str:
    """What "tone down the <quality> of ..." lessens: a colour stays one, anything else is how
    saturated it is ("the colours", "the saturation")."""
    return quality if quality.lower() in lexicon()["colors"] else "saturated"


def _treated(quality: str) -> str:
    """What "fix the colours" gives the picture: natural colour (said in the singular, as "autumn
    colours" would read as a look named "autumn")."""
    return "colour" if re.match(r"colou?rs?$|tones?$", quality, _I) else quality


def _with(thing: str) -> str:
    """ "with a moon" adds one; "with a blue sky" recolours the sky every picture has."""
    parts = re.sub(r"^(?:an?|the|some)\s+", "", thing, flags=_I).split()
    if len(parts) >= 2 and parts[-1].lower() in _PARTS:
        colour = color_split(" ".join(parts[:-1]))
        if colour is not None and not colour[0].strip():
            return f"make the {parts[-1]} {colour[1]}"
    return f"add {thing}"


def _where_or_what(preposition: str, rest: str) -> str:
    """ "in the top left corner" stays a place (a move); "in red", "as a lamp" are what it becomes."""
    return f"{preposition} {rest}" if re.match(r"the\s+", rest, _I) else rest


def _but(change: str) -> str:
    """The clause for "same, but <change>"."""
    if re.match(r"with\s+", change, _I):
        return f"add {change[5:]}"
    if re.match(r"without\s+", change, _I):
        return f"remove {change[8:]}"
    return f"make it {change}"


@cache
def _rules(has_image: bool, audio: str | None) -> list[Rule]:
    add_or_draw = "add" if has_image else "draw"  # "let there be a moon" on an empty canvas
    style_nouns = "|".join(map(re.escape, words("style_nouns")))
    verbs = "|".join(sorted(_verbs(one_word=True), key=len, reverse=True))
    rules: list[Rule] = [
        # hedges and question frames around an ordinary clause
        (re.compile(r"^(?:is it possible to|would it be possible to|is there a way to|"
                    r"(?:any chance|do you think|is there any way)\s+(?:you|we)\s+(?:could|can)|"
                    r"would you mind|mind|can we|could we|why not|why don't you|maybe|perhaps|first)\s+(.+)$", _I),
         lambda m: m.group(1)),
        (re.compile(r"^(?:how|what) about\s+(.+)$", _I),
         lambda m: m.group(1) if verb_of(m.group(1)) else f"{add_or_draw} {m.group(1)}"),
        # removal without a remove verb
        (re.compile(r"^(.+?)\s+(?:should|must|needs? to|has to|have to|ought to)\s+"
                    r"(?:be gone|go|disappear|vanish|be removed|be erased)$", _I),
         lambda m: f"remove {m.group(1)}"),
        (re.compile(r"^(.+?)(?:'s|\s+is|\s+has)?\s+(?:gotta|got to)\s+(?:go|be gone)$", _I),
         lambda m: f"remove {m.group(1)}"),
        # "scrub out the logo", "paint the wires out", "zap the power lines"
        (re.compile(rf"^(?:{_OUT_VERBS})\s+(?:out|away)\s+(.+)$|^(?:{_OUT_VERBS})\s+(.+?)\s+(?:out|away)$|"
                    r"^(?:zap|nuke|axe|scrap|banish)\s+(.+)$", _I),
         lambda m: f"remove {m.group(1) or m.group(2) or m.group(3)}"),
        # "drop the clouds" (nowhere to drop them into: they go)
        (re.compile(rf"^drop\s+((?:{DEFINITE})\s+(?:(?!\b(?:{_NEAR}|to|onto|inside|off|here|there)\b)[^\[])+)$", _I),
         lambda m: f"remove {m.group(1)}"),
        (re.compile(r"^(?:there should(?:n't| not) be|there should be no|no more|"
                    r"i (?:don't|do not) want)\s+(?:any\s+)?(.+)$", _I),
         lambda m: f"remove {m.group(1)}"),
        (re.compile(r"^get\s+(.+?)\s+out(?:\s+of\s+(?:there|here|the (?:picture|photo|shot|way|frame|image))|"
                    r"\s+of\s+(.+))?$", _I),
         lambda m: f"remove {m.group(1)}" + (f" from {m.group(2)}" if m.group(2) else "")),
        (re.compile(r"^take\s+(?:away\s+)?(.+?)\s+(?:off(?: of)?|away from)\s+(.+)$", _I),
         lambda m: f"remove {m.group(1)} from {m.group(2)}"),
        (re.compile(r"^take\s+(.+?)\s+(?:away|off|out)$", _I), lambda m: f"remove {m.group(1)}"),
        (re.compile(r"^take away\s+(.+)$", _I), lambda m: f"remove {m.group(1)}"),
        # "paint over the graffiti", "cover up the tattoo": it goes (not "paint over it in blue")
        (re.compile(r"^(?:paint|draw|brush|cover)\s+(?:over|up)\s+((?:(?!\b(?:in|with)\b).)+)$", _I),
         lambda m: f"remove {m.group(1)}"),
        (re.compile(r"^paint\s+over\s+(.+?)\s+(?:in|with)\s+(.+)$", _I),
         lambda m: f"paint {m.group(1)} {m.group(2)}"),
        # "clean up the stains on the shirt", "wipe off the smudges": dirt goes
        (re.compile(rf"^(?:clean|wipe|scrub|brush|tidy)(?:\s+(?:up|off|away))?\s+((?:{DEFINITE}|any|all (?:the|of the))\s+"
                    rf"(?:\w+\s+)?(?:{_DIRT})\b.*)$", _I),
         lambda m: f"remove {m.group(1)}"),
        # "throw a couple of ducks in the pond", "chuck in some clouds"
        (re.compile(rf"^(?:throw|toss|chuck|plonk|plop|bung|slap)\s+(?:in\s+)?({_SOME}\s+.+)$", _I),
         lambda m: f"{add_or_draw} {m.group(1)}"),
        # "tone down the red of the barn", "tone down the colours"
        (re.compile(r"^tone\s+down\s+(?:the\s+)?(\w+)\s+(?:of|in|on)\s+(.+)$", _I),
         lambda m: f"make {m.group(2)} less {_toned(m.group(1))}"),
        (re.compile(r"^tone\s+(?:down\s+(.+)|(.+?)\s+down)$", _I),
         lambda m: f"make {m.group(1) or m.group(2)} less saturated"),
        # "I need this in black and white", "we want it as a sketch"
        (re.compile(r"^(?:i|we)\s*(?:need|want|'d like|would like|'d love)\s+(?:it|this|that|the (?:image|picture|photo))"
                    r"\s+(in|as)\s+(.+)$", _I),
         lambda m: f"it {m.group(1)} {m.group(2)}"),
        # "car -> yellow", "the dog → a wolf": what it becomes
        (re.compile(r"^(.+?)\s*(?:->|→|=>)\s*(.+)$", _I), lambda m: _should_be(m.group(1), m.group(2))),
        # "remove: the bin", "add - a moon"
        (re.compile(rf"^({verbs})\s*[:\-]\s+(.+)$", _I), lambda m: f"{m.group(1)} {m.group(2)}"),
        # "it'd be cool with some fireflies"
        (re.compile(rf"{_WOULD_BE}(?:with|to have|to add|to see)\s+(.+)$", _I),
         lambda m: f"add {m.group(1)}"),
        # "turn day into night", "change summer to winter": a look for the whole picture
        (re.compile(rf"^(?:turn|change|convert|switch)\s+(?:the\s+)?(?:{LOOKS}|day)\s+(?:in)?to\s+(?:the\s+)?({LOOKS})$", _I),
         lambda m: f"make it look {m.group(1)}"),
        # "desaturate it", "saturate the colours a bit"
        (re.compile(r"^(de)?saturate\s+(.+?)(?:\s+a\s+(?:bit|little|touch))?$", _I),
         lambda m: f"make {m.group(2)} {'less' if m.group(1) else 'more'} saturated"),
        # "what if the car was blue", "it would look nicer if the car was red", "what would [house]
        # look like in winter"
        (re.compile(rf"(?:^what |{_WOULD_BE})if\s+(.+?)\s+(?:was|were|is|are|looked)\s+(.+)$", _I),
         lambda m: _should_be(m.group(1), m.group(2))),
        (re.compile(r"^what would\s+(.+?)\s+look like\s+(.+)$", _I),
         lambda m: f"make {m.group(1)} look like {m.group(2)}"),
        # "let/have the man wear sunglasses"; "let there be a moon"; "[garden] should have a bench"
        (re.compile(r"^(?:let|have|make)\s+(?!there\b)(.+?)\s+(?:wear|hold|carry|have on)\s+(.+)$", _I),
         lambda m: f"put {m.group(2)} on {m.group(1)}"),
        (re.compile(r"^(?:(?:let|have) (?:th+e?re|tehre|ther)\s+be|there should be|i want there to be)\s+(.+)$", _I),
         lambda m: f"{add_or_draw} {m.group(1)}"),
        (re.compile(rf"^({REF}|it|this|the (?:image|picture|photo|scene))\s+(?:(?:should|must|needs? to)"
                    r"\s+have|needs|could (?:use|do with)|is missing|lacks)\s+(.+)$", _I),
         lambda m: _needs(m.group(1), m.group(3))),
        # "the girl should have red hair": a colour of something she has; "the dog should have a hat"
        (re.compile(r"^(the\s+.+?)\s+(?:should|must|needs? to|could)\s+have\s+(.+)$", _I),
         lambda m: _should_have(m.group(1), m.group(2))),
        (re.compile(rf"^(?:i|we)\s*(?:want|'d like|would like)\s+({REF}|(?:an?|some)\s+.+?)\s+"
                    rf"(?:in|on|into)\s+({REF})$", _I),
         lambda m: f"add {m.group(1)} to {m.group(3)}"),
        # "I'd prefer the car in red", "I'd rather it was sunny": a wish for how it should be
        (re.compile(r"^(?:i'?d|i would|we'?d|we would)\s+(?:prefer|rather have|like)\s+(the\s+.+?)\s+(in|as)\s+(.+)$", _I),
         lambda m: _should_be(m.group(1), _where_or_what(m.group(2), m.group(3)))),
        (re.compile(r"^(?:i'?d|i would|we'?d|we would)\s+(?:rather|prefer(?:\s+it)?\s+if)\s+(.+?)\s+(?:was|were|is|looked)\s+(.+)$", _I),
         lambda m: _should_be(m.group(1), m.group(2))),
        # "X should be Y", "let X be Y", "can X be Y?"
        (re.compile(r"^(?:let|can|could|should)\s+(.+?)\s+be\s+(.+)$", _I),
         lambda m: _should_be(m.group(1), m.group(2))),
        # "i want the car gone": a wish for how something ends up
        (re.compile(r"^(?:i|we)\s*(?:want|'d like|would like|need)\s+((?:the|that|this|those|these)\s+.+?|it|this|that)\s+"
                    r"(gone|removed|erased|out of (?:here|there|the (?:picture|photo|shot|way)))$", _I),
         lambda m: f"remove {m.group(1)}"),
        (re.compile(r"^(.+?)\s+(?:should|must|could|needs? to|ought to|has to|have to)\s+be\s+(.+)$", _I),
         lambda m: _should_be(m.group(1), m.group(2))),
        # "the car would be nicer in red", "the vase would look better as a lamp"
        (re.compile(r"^(.+?)\s+would\s+(?:be|look)\s+(?:nicer|better|prettier|cooler|great|good|"
                    r"lovely|fun|cute|amazing)\s+(in|as|on|at)\s+(.+)$", _I),
         lambda m: _should_be(m.group(1), _where_or_what(m.group(2), m.group(3)))),
        # "brighten this up", "darken the sky", "warm up the colours": a quality, not an op
        (re.compile(rf"^({_BRIGHTEN})(?:\s+up|\s+down)?\s+(.+?)(?:\s+(?:up|down)(?:\s+a\s+(?:bit|little))?)?$", _I),
         lambda m: f"make {m.group(2)} {_BRIGHTER[m.group(1).lower().removesuffix('en')]}"),
        # "make the grass greener", "the sky a bit bluer": a recolour to that colour
        (re.compile(rf"^((?:make|turn|paint|colou?r)\s+.+?)\s+(?:(?:{DEGREES})\s+)?({'|'.join(_MORE_COLOUR)})$", _I),
         lambda m: f"{m.group(1)} {_MORE_COLOUR[m.group(2).lower()]}"),
        # "do it in the style of van gogh", "do [city] as a watercolour"
        (re.compile(rf"^do\s+(it|this|that|{REF}|the (?:image|picture|photo))\s+(in|as|like)\s+(.+)$", _I),
         lambda m: f"restyle {m.group(1)} {m.group(3)} {m.group(4)}"),
        # "use [mountains] as the background for [hiker]": the one put into the other
        (re.compile(rf"^use\s+({REF})\s+as\s+(?:the|a)\s+(?:background|backdrop|setting|scenery|backgound)\s+"
                    rf"(?:for|of|behind)\s+({REF})$", _I),
         lambda m: f"add {m.group(3)} to {m.group(1)}"),
        # "use [bees] as the mood for [garden]": the one restyled like the other
        (re.compile(rf"^use\s+({REF})\s+as\s+(?:the|a)\s+(?:{style_nouns}|mood|inspiration|reference)\s+"
                    rf"(?:for|of|on|in)\s+(.+)$", _I),
         lambda m: f"restyle {m.group(3)} like {m.group(1)}"),
        # "fix the colours in [photo]", "correct the white balance": a treatment of the whole
        (re.compile(r"^(?:fix|correct|balance|adjust|improve|enhance|touch up|clean up)\s+(?:the\s+)?"
                    r"(colou?rs?|lighting|light|exposure|white balance|tones?|contrast)"
                    r"(?:\s+(?:in|of|on)\s+(.+))?$", _I),
         lambda m: f"restyle {m.group(2) or 'it'} in natural {_treated(m.group(1))}"),
        # "give it another spin", "have another go"
        (re.compile(r"^(?:give it|have|take|try)\s+(?:another|one more)\s+(?:spin|go|shot|try|roll|pass)$", _I),
         lambda m: "make a variation of it"),
        # "borrow the look of [ukiyo] for [city]": use a style
        (re.compile(rf"^(?:borrow|take|steal|copy|grab)\s+(the\s+(?:{style_nouns})\s+(?:of|from)\s+"
                    rf"{REF}\s+(?:for|on|to|onto|in)\s+.+)$", _I),
         lambda m: f"use {m.group(1)}"),
        # "[cat] sitting on the windowsill of [flat]": the reference goes into the image named last
        (re.compile(rf"^({REF})\s+(?:\w+ing\s+)?((?:on|in|at|by|near|under|over|beside|behind|next to|"
                    rf"inside|across|against|along)\s+(?!the\s+(?:{style_nouns})\b)[^\[]+?)\s+(?:of|in)\s+({REF})$", _I),
         lambda m: f"add {m.group(1)} to {m.group(4)} {m.group(3)}"),
        # "put [tractor] where the backpack is": one in place of the other
        (re.compile(r"^(?:put|place|stick|pop|(?:swap|drop|slot|sub|put|pop|stick)\s+in)\s+(.+?)\s+where\s+(.+?)\s+"
                    r"(?:is|are|was|were|used to be|stands?)$", _I),
         lambda m: f"replace {m.group(2)} with {m.group(1)}"),
        # "[sofa] instead of the old couch in [room]"
        (re.compile(rf"^({REF}|(?:an?|some)\s+.+?)\s+instead of\s+(.+)$", _I),
         lambda m: f"replace {m.group(3)} with {m.group(1)}"),
        # "now give him [hat]": the reference goes on him
        (re.compile(rf"^give\s+(him|her|them|it|the\s+\w+(?:\s+\w+)?)\s+({REF})$", _I),
         lambda m: f"put {m.group(2)} on {m.group(1)}"),
        # "give it some colour", "add some color to it", "colour it in": colourise
        (re.compile(r"^(?:give\s+(.+?)\s+(?:some\s+|more\s+)?colou?rs?|add\s+(?:some\s+|more\s+)?colou?rs?\s+to\s+(.+?)"
                    r"|colou?r\s+(.+?)\s+in)$", _I),
         lambda m: f"restyle {m.group(1) or m.group(2) or m.group(3)} in full colour"),
        # "give it an 80s look", "give the room a warmer feel": a restyle
        (re.compile(rf"^give\s+(?!me\b)(.+?)\s+(?:an?|some)\s+(.+?)\s+(?:{style_nouns})$", _I),
         lambda m: f"make {m.group(1)} look {m.group(2)}"),
        # "give the dog a party hat" (but "give [a] a vibe like [b]" is a restyle)
        (re.compile(rf"^give\s+(?!me\b)(.+?)\s+((?:an?|some)\s+(?!(?:{style_nouns})\b).+)$", _I),
         lambda m: f"put {m.group(2)} on {m.group(1)}"),
        (re.compile(r"^colou?ri[sz]e\s+(.+)$", _I),
         lambda m: f"restyle {m.group(1)} in full colour"),
        # "the way [monet] would", "[portrait], but painted like [klimt]", "... as if painted by"
        (re.compile(rf"^(?:do|paint|draw|render|redo)\s+({REF})\s+the way\s+({REF})\s+would"
                    r"(?:\s+(?:do|paint|draw) it)?$", _I),
         lambda m: f"restyle {m.group(1)} like {m.group(3)}"),
        (re.compile(rf"^(.+?)\s+the way\s+({REF})\s+(?:sounds|looks|feels)$", _I),
         lambda m: f"{m.group(1)} like {m.group(2)}"),
        (re.compile(rf"^({REF}),?\s+(?:but|as if(?: it (?:was|were))?|as though)\s+"
                    r"(?:painted|drawn|done|rendered|made)\s+(.+)$", _I),
         lambda m: "restyle " + m.group(1) + " " + _BY.sub("like ", m.group(3))),
        (re.compile(rf"^(?:i|we)\s*(?:want|need|'d like|would like)\s+({REF})\s+to\s+"
                    r"(look|feel|seem|be)\s+(.+)$", _I),
         lambda m: f"make {m.group(1)} {m.group(3)} {m.group(4)}"),
        (re.compile(rf"^(?:i|we)\s*(?:want|need|'d like|would like)\s+({REF})\s+to\s+have\s+"
                    r"(.+)$", _I),
         lambda m: f"give {m.group(1)} {m.group(3)}"),
        (re.compile(rf"^give\s+(.+?)\s+(?:an?|the)\s+(?:{style_nouns})\s+(?:like|similar to)\s+"
                    rf"({REF})$", _I),
         lambda m: f"restyle {m.group(1)} like {m.group(2)}"),
        # "[kitchen], but in the style of [vermeer]": the one restyled like the other
        (re.compile(rf"^({REF}),?\s+but\s+(?:(?:done|painted|drawn)\s+)?(?:(?:in the (?:style|manner) of|like|"
                    rf"styled like|looking like)\s*({REF})|in\s+({REF})'?s?\s+style)$", _I),
         lambda m: f"make {m.group(1)} look like {m.group(3) or m.group(5)}"),
        # "[street] without the cars", "[photo] but with the sky from [sky]"
        (re.compile(rf"^({REF}),?\s+(?:but\s+)?(?:without|minus)\s+(.+)$", _I),
         lambda m: f"remove {m.group(3)} from {m.group(1)}"),
        (re.compile(rf"^({REF}),?\s+but\s+with\s+(.+)$", _I),
         lambda m: f"add {m.group(3)} to {m.group(1)}"),
        # "[room] with [cat] on the rug": the reference goes into the image named first
        (re.compile(rf"^({REF})\s+with\s+({REF})(\s+(?:\w+ing\s+)?(?:on|in|at|by|near|under|over|beside|"
                    r"behind|next to|inside|across|against|along)\s+[^\[]+)?$", _I),
         lambda m: f"add {m.group(3)} to {m.group(1)}{m.group(5) or ''}"),
        # asking for a new picture
        (re.compile(r"^(?:i|we)\s*(?:need|want|'d like|would like)\s+(?:an?\s+)?(?:picture|image|"
                    r"photo|drawing|painting|illustration|render)\s+(?:of|with|showing)\s+(.+)$", _I),
         lambda m: f"draw {m.group(1)}"),
        # variations of the current image
        (re.compile(r"^(?:try|make|give me|show me|do|let me see)\s+(?:another|a different|one more|"
                    r"a new|a couple(?: of)?|a few|some|two|three|several|more)\s+(?:other\s+|more\s+|"
                    r"new\s+|different\s+)?(?:versions?|variants?|variations?|alternatives?|options|"
                    r"takes|one)(?:\s+(?:of|on)\s+(.+))?$", _I),
         lambda m: f"make a variation of {m.group(1) or 'it'}"),
        (re.compile(r"^again,?\s+(?:but\s+)?(?:slightly\s+|a bit\s+|a little\s+)?different(?:ly)?$|"
                    r"^one more like (?:that|this|it)$", _I),
         lambda m: "make a variation of it"),
    ]  # fmt: skip
    if has_image:  # on a picture, a bare phrase edits it ("plus a moon", "sunset vibes")
        rules.extend(_ON_A_PICTURE)
        rules.append(_bare_things_by())
        # "i'd love a rainbow over the hills": the wish is the phrase, read as the rules above do
        rules.append((
            re.compile(rf"^{_WISH}\s+((?:an?|some|more|two|three|a few|a couple of)\s+.+)$", _I),
            lambda m: m.group(1),
        ))  # fmt: skip
    if not has_image:  # on an empty canvas a wish describes the new picture ("I'd like two stars")
        rules.append((
            re.compile(rf"^(?:{_WISH}|give me|get me|(?:can|could|may) i "
                       r"(?:get|have|see)|there(?: is|'s| are)|i wish i (?:had|could see|could have))"
                       r"\s+(?!to\b)(.+)$", _I),
            lambda m: f"draw {m.group(1)}",
        ))  # fmt: skip
    if audio is not None:  # "the song", "the sound" when exactly one sound is attached
        rules.append((
            re.compile(r"^(.*?)\bthe (?:song|sound|music|track|audio|recording|clip)\b(?! of)(.*)$", _I),
            lambda m: f"{m.group(1)}[{audio}]{m.group(2)}",
        ))  # fmt: skip
    return rules


def fix_typos(clause: str) -> str:
    """Correct a misspelt leading verb ("remvoe", "mkae", "addd", "get rid off"): an adjacent
    transposition, a doubled or undoubled letter, or one letter missing from a verb of six
    letters or more. A word that is itself a verb is never changed."""
    clause = re.sub(r"^get rid off\b", "get rid of", clause, flags=_I)
    first, _, rest = clause.partition(" ")
    if not first.isalpha() or verb_of(first) is not None:
        return clause
    found = [v for v in _verbs(one_word=True) if _one_slip(first.lower(), v)]
    return f"{found[0]} {rest}".strip() if len(found) == 1 else clause


def _one_slip(word: str, verb: str) -> bool:
    if len(word) == len(verb) and len(word) >= 3:
        diff = [i for i, (a, b) in enumerate(zip(word, verb, strict=True)) if a != b]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == verb[diff[1]] and word[diff[1]] == verb[diff[0]]  # fmt: skip
    if abs(len(word) - len(verb)) != 1:
        return False
    short, long = sorted((word, verb), key=len)
    for i in range(len(long)):
        if long[:i] + long[i + 1 :] == short:
            doubled = (i > 0 and long[i] == long[i - 1]) or (
                i + 1 < len(long) and long[i] == long[i + 1]
            )
            return doubled or (long is verb and len(verb) >= 6)
    return False


def rewrite(clause: str, assets: Mapping[str, str]) -> str:
    """``clause`` in the grammar's canonical words (unchanged when no rule matches)."""
    clause = fix_typos(clause.strip())
    has_image = any(kind == "image" for kind in assets.values())
    for _ in range(4):  # a rewrite may reveal another ("could we have the man wear a hat")
        for pattern, replace in _rules(has_image, _audio_name(clause, assets)):
            match = pattern.match(clause)
            if match:
                clause = fix_typos(replace(match).strip())
                break
        else:
            return clause
    return clause
