"""Clause readers of the fast-path grammar: one function per verb family, each adding ops and
asset roles (base, subs, style) to a :class:`Draft`."""

from __future__ import annotations

import re

from anypix.agent.everyday import rewrite
from anypix.agent.phrases import (
    COMPARATIVES,
    DEFINITE,
    DEGREES,
    LOOKS,
    REF,
    VAGUE,
    WHOLE,
    Draft,
    NotCanonicalError,
    alternation,
    clean,
    color_split,
    is_whole,
    items,
    lexicon,
    object_phrase,
    ref_names,
    take_region,
    take_style,
    vague_target,
    verb_of,
    words,
)
from anypix.agent.scene_words import take_count
from anypix.errors import ClarificationNeeded

# -- clause readers ---------------------------------------------------------------------------------

_DEST = (
    rf"\b(?:to|into|onto|in|on|over|inside|within|at|of)\s+(?:the\s+)?(?:image\s+|photo\s+)?{REF}"
)


# "put the cat on the right" moves a cat the picture has; "put a cat on the right" adds one
_MAY_MOVE = ("put", "place", "bring", "set", "position")


def _add(verb: str, rest: str, draft: Draft) -> None:
    rest, place = take_region(rest)
    base = None
    # the image added to is the last "to/in/on/of [X]"; what follows it says where
    match = next(reversed(list(re.finditer(rf"\s*{_DEST}", rest, re.IGNORECASE))), None)
    if (
        match
        and (match.start() > 0 or len(ref_names(rest)) == 1)
        and not ref_names(rest[match.end() :])
    ):
        base, rest = match.group(1), (rest[: match.start()] + " " + rest[match.end() :]).strip()
    elif re.search(r"\s+(?:to|into|onto|in)\s+(?:it|the image|the picture|the photo)$", rest):
        base, rest = WHOLE, re.sub(r"\s+\w+\s+(?:it|the \w+)$", "", rest)
    rest, region = take_region(rest)
    place = place or region
    if is_whole(rest) or rest.lower() in ("them", "him", "her"):  # "put it on the left"
        _place_previous(draft, place)
        return
    draft.base(base)
    for item in items(rest):
        refs = ref_names(item)
        if len(refs) > 1:
            raise NotCanonicalError(f"cannot tell what {item!r} adds")
        # "the scarf from [scarf] on the girl": the ref is the source, the text says what
        target = re.sub(rf"\s+(?:from|of)\s+{REF}", "", item) if refs else item
        target = target if target.strip() else refs[0]
        if verb.lower() in _MAY_MOVE and place and not refs and re.match(r"the\s", target, re.I):
            raise NotCanonicalError(f"'{verb} {target}' may move what the picture already has")
        draft.op("add", target, refs[0] if refs else None, place)


def _place_previous(draft: Draft, place: str) -> None:
    added = [op for op in draft.ops if op["op"] in ("add", "move")]
    if not added or not place:
        raise NotCanonicalError("'it' has nothing earlier to refer to")
    added[-1]["place"] = place


def _remove(verb: str, rest: str, draft: Draft) -> None:
    match = re.fullmatch(
        rf"(.+?)\s+(?:from|out of|in|of|off|on)\s+(?:the\s+)?(?:image\s+|photo\s+)?{REF}",
        rest,
        re.IGNORECASE,
    )
    if match:
        rest, base = match.group(1), match.group(2)
        draft.base(base)
    elif re.search(r"\s+(?:from|out of)\s+(?:it|the image|the picture|the photo)$", rest):
        rest = re.sub(r"\s+(?:from|out of)\s+(?:it|the \w+)$", "", rest)
        draft.base(WHOLE)
    rest = re.sub(r"\s+(?:out|away|off)$", "", rest)
    if verb == "take" and not match:
        raise NotCanonicalError("'take' without 'out of [image]'")
    owner = re.search(rf"{REF}'s\b", rest)
    if owner and not match:  # "the sign above [shop]'s door": [shop] is the image
        draft.base(owner.group(1))
        rest = re.sub(rf"{REF}'s\b", "the", rest)
    for item in items(rest):
        item = vague_target(draft, item, verb)
        refs = ref_names(item)
        draft.op("remove", item, refs[0] if refs else None)


def _replace(verb: str, rest: str, draft: Draft) -> None:
    rest = re.sub(r"^out\s+", "", rest)
    match = re.fullmatch(r"(.+?)\s+(?:with|for|by|to|into)\s+(.+)", rest, re.IGNORECASE)
    if match is None:
        raise NotCanonicalError(f"'{verb}' needs 'X with Y'")
    old, new = match.group(1), match.group(2)
    if verb == "substitute" and " for " in match.group(0):
        old, new = new, old  # "substitute Y for X": Y goes where X was
    old_target, base = object_phrase(old)
    if not old_target and re.fullmatch(r"(?:the\s+)?background", clean(old), re.I):
        draft.base(base)  # "replace the background with mountains": the background redrawn
        draft.op("restyle", f"{clean(new)} background")
        return
    if not old_target and VAGUE.fullmatch(clean(old)):  # "replace it with a cat": which thing?
        old_target, base = vague_target(draft, clean(old), f"replace with {clean(new)}"), None
    elif not old_target:
        raise NotCanonicalError("replacing the whole image is drawing a new one")
    draft.base(base)
    new_target, new_ref = object_phrase(new)
    if new_ref == WHOLE:
        raise NotCanonicalError("cannot replace something with the whole image")
    if new_ref is None:
        draft.op("replace", f"{old_target} with {new_target}")
    else:
        draft.op("replace", old_target or new_ref, new_ref)


# Colours that are a look when the whole picture takes them: "make it black and white" is a
# photograph's treatment, not every object painted black and white ("the dress" still recolours).
_LOOK_COLOURS = re.compile(r"black (?:and|&) white|sepia", re.IGNORECASE)


def _recolor(rest: str, draft: Draft) -> None:
    split = color_split(rest)
    if split is None:
        raise NotCanonicalError(f"no colour in {rest!r}")
    target, base = object_phrase(re.sub(r"\s+(?:in|to)$", "", split[0]))
    draft.base(base)
    if not target and _LOOK_COLOURS.fullmatch(split[1]):
        draft.op("restyle", split[1])
        return
    draft.op("recolor", f"{target or 'everything'} {split[1]}")


def _move(rest: str, draft: Draft) -> None:
    rest, place = take_region(rest)
    match = re.fullmatch(
        r"(.+?)\s+((?:up|down|left|right|closer|further|farther|higher|lower|next to|towards?|"
        r"behind|in front of|over|under|a bit|a little|slightly)\b.*)",
        rest,
        re.IGNORECASE,
    )
    where = match.group(2) if match else ""
    obj = match.group(1) if match else rest
    if not (place or where):
        raise NotCanonicalError("a move needs a direction or a place")
    target, base = object_phrase(obj)
    if base == WHOLE and not target and draft.ops:
        _place_previous(draft, place or where)
        return
    if (base == WHOLE and not target) or (base is None and VAGUE.fullmatch(clean(target))):
        target, base = vague_target(draft, "it", f"move {place or where}".strip()), None
    draft.base(base)
    # a place said ("to the right") is where it goes; what came before it is a particle ("over",
    # "a bit"), not part of the object
    draft.op("move", f"{target} {place or where}", None, place)


def _restyle(verb: str, rest: str, style: str | None, draft: Draft) -> None:
    nouns = alternation(words("style_nouns"))
    use = re.fullmatch(
        rf"(?:the\s+)?((?:{nouns}))\s+(?:of|from)\s+{REF}\s+(?:on|to|onto|for|in)\s+(.+)",
        rest,
        re.IGNORECASE,
    )
    give = re.fullmatch(rf"(.+?)\s+(?:the|a)\s+((?:{nouns}))\s+(?:of|from)\s+{REF}", rest, re.I)
    variation = re.fullmatch(
        rf"me\s+(?:a|an|another|some|\w+)\s+(?:other\s+)?(?:variations?|versions?)\s+(?:of|on)\s+{REF}",
        rest,
        re.I,
    )
    match_style = re.fullmatch(rf"(?:the\s+(?:{nouns})\s+(?:of|from)\s+)?{REF}", rest, re.I)
    if variation and verb == "give":
        draft.base(variation.group(1))
        draft.op("variation")
        return
    if match_style and verb == "match":
        draft.style(match_style.group(1))
        draft.base(WHOLE)
        draft.op("restyle", "", match_style.group(1))
        return
    if use and verb in ("use", "apply", "transfer"):
        draft.style(use.group(2))
        obj, aspect, style = use.group(3), use.group(1), use.group(2)
    elif give and verb == "give":
        draft.style(give.group(3))
        obj, aspect, style = give.group(1), give.group(2), give.group(3)
    else:
        match = re.fullmatch(r"(.+?)\s+(?:as|like|in|into)\s+(.+)", rest, re.IGNORECASE)
        obj, aspect = (match.group(1), match.group(2)) if match else (rest, "")
        if style is None and not aspect:
            raise NotCanonicalError(f"'{verb}' needs a style")
    target, base = object_phrase(obj)
    draft.base(base)
    aspect = "" if aspect.lower() == "style" else aspect
    draft.op("restyle", " ".join(p for p in (target, aspect) if p), style)


def _make(verb: str, rest: str, style: str | None, draft: Draft) -> None:
    """make / turn / paint / render / change / convert: recolor, restyle, replace or generate."""
    lowered = rest.lower()
    variation = re.fullmatch(
        r"(?:me )?(?:a |an |some |\w+ )?(?:other |new )?(?:variations?|versions?|alternatives?) "
        r"(?:of|on) (.+)",
        rest,
        re.IGNORECASE,
    )
    if variation and (re.fullmatch(REF, variation.group(1)) or is_whole(variation.group(1))):
        draft.base(object_phrase(variation.group(1))[1])
        draft.op("variation")
        return
    change = re.fullmatch(r"(?:the )?colou?r of (.+?) (?:to|into) (.+)", rest, re.IGNORECASE)
    if change:
        rest = f"{change.group(1)} {change.group(2)}"
    into = re.fullmatch(r"(.+?)\s+(?:into|to)\s+(.+)", rest, re.IGNORECASE)
    if into and verb in ("turn", "change", "convert", "transform") and not color_split(rest):
        obj_target, base = object_phrase(into.group(1))
        if base == WHOLE or (base and not obj_target):
            draft.base(base)
            draft.op("restyle", into.group(2), style)
        else:
            _replace("replace", f"{into.group(1)} with {into.group(2)}", draft)
        return
    # "make a picture of a cat", "paint a sunset": no image named, so a new one is described
    names_image = ref_names(rest) or re.match(rf"({alternation(words('whole_image'))})\b", lowered)
    counted = take_count(lowered)[0] is not None  # "a", "3", "three", "a dozen"
    describes = (counted or re.match(r"(the|some)\b", lowered)) and (
        not color_split(rest) or re.match(r"an? ", lowered)
    )
    if style is None and VAGUE.fullmatch(clean(rest)):  # "change that": change it how?
        if not draft.answer:
            raise ClarificationNeeded(
                f"What should I {verb}, and how? (for example: make the car red)"
            )
        answer, draft.answer = rewrite(draft.answer, draft.assets), ""
        return read_clause(answer if verb_of(answer) else f"make {answer}", draft)
    sizes = lexicon()["size_words"]
    resizes = any(w in lowered.split() for w in sizes)
    if re.match(rf"(?:{DEFINITE})\s", lowered) and lowered.split()[-1] in sizes and not names_image:
        raise NotCanonicalError("resizing is not an op")  # "make the dog bigger": not a new picture
    recolour = bool(color_split(rest)) and not re.search(r"\bless\b", rest, re.I)  # "less red": no
    quality = _QUALITY.fullmatch(rest)
    if quality and not names_image and not recolour:
        # "make the sky even darker", "make the grass look dry": a thing already there
        aspect = re.sub(
            r"^(?:look|feel|seem|appear)\s+(?:like\s+)?", "", quality.group(2), flags=re.I
        )
        draft.op("restyle", f"{quality.group(1)} {aspect}", style)
        return
    if not names_image and verb in ("make", "paint", "render", "draw") and describes:
        _describe(rest, draft)
        return
    if recolour:
        _recolor(rest, draft)
        return
    if resizes:
        raise NotCanonicalError("resizing is not an op")
    obj, aspect = _split_object(rest)
    target, base = object_phrase(obj)
    if base is None:
        raise NotCanonicalError(f"cannot tell which image '{verb} {rest}' edits")
    if style is None and not aspect:
        raise NotCanonicalError(f"'{verb}' needs a colour, a style or a description")
    draft.base(base)
    aspect = re.sub(r"^(?:look|feel|seem|appear|like|as|in|into)\s+(?:like\s+)?", "", aspect)
    draft.op("restyle", " ".join(p for p in (target, aspect) if p), style)


# "the sky" + "even darker" / "a bit more colourful" / "look dry": a quality of something that is
# already in the picture (a definite object, then a comparative, a degree or a look verb).
_QUALITY = re.compile(
    rf"((?:{DEFINITE})\s+(?:\w+\s+){{0,2}}?\w+)\s+("
    rf"(?:(?:{DEGREES})\s+)*"
    rf"(?:(?:more|less)\s+\w+(?:\s+(?:out|up|over))?|{COMPARATIVES})|(?:look|feel|seem|appear)\s+(?!like\b).+|"
    rf"(?:look|feel|seem)\s+like\s+(?:an?\s+)?(?:{LOOKS}))",
    re.IGNORECASE,
)


def _split_object(rest: str) -> tuple[str, str]:
    """ "the jacket in [jacket] a bit darker" -> object up to the image name, then the rest."""
    whole = re.match(rf"({alternation(words('whole_image'))})\b\s*(.*)", rest, re.IGNORECASE)
    if whole:
        return whole.group(1), whole.group(2)
    match = re.match(rf"(.*?{REF}(?:'s\s+\w+)?)\s*(.*)", rest)
    if match:
        return match.group(1), match.group(3)
    return rest, ""


_BACK_REFERENCE = re.compile(
    r"\b(?:again|same|re-?roll|redo|alternatives?|versions?|variations?|instead)\b", re.I
)


def _describe(text: str, draft: Draft) -> None:
    """A description of a new image ("a lighthouse in a storm, oil painting")."""
    variation = re.fullmatch(
        rf"(?:a |an |some |\w+ )?(?:variations?|versions?|alternatives?) (?:of|on) {REF}",
        text.strip(),
        re.IGNORECASE,
    )
    if variation:
        draft.base(variation.group(1))
        draft.op("variation")
        return
    text = re.sub(
        r"^(?:me\s+)?(?:(?:an?|the)\s+(?:image|picture|photo|drawing|render|illustration)\s+of\s+)?",
        "",
        text,
        flags=re.IGNORECASE,
    )
    first = text.split()[0].lower() if text.split() else ""
    if first in lexicon()["unsupported_verbs"]:
        raise NotCanonicalError(f"'{first}' is not an op the plan language has")
    if re.search(
        r"\b(?:i|we|you|me|my|our|should|want|wish|don't|do not|can|could|would|there|let)\b",
        text,
        re.I,
    ):
        raise NotCanonicalError("it reads like a request, not a description")
    if _BACK_REFERENCE.search(text):  # "same scene, new details", "reroll": the picture shown
        raise NotCanonicalError("it refers back to a picture instead of describing a new one")
    if re.match(rf"{REF}\s*(?:,|but|without|with|minus|except|in which|where)\b", text, re.I):
        raise NotCanonicalError("it reads like an edit of the image it names")
    for name in ref_names(text):
        if re.search(
            rf"\b(?:on|in|into|to|onto|with|without|but|for|after)\s+\[{re.escape(name)}\]", text
        ):
            raise NotCanonicalError(f"cannot tell whether [{name}] is edited or shown")
        if name not in draft.subs:
            draft.subs.append(name)
    draft.generating = True
    draft.gen_text.append(clean(text))


def _variation(rest: str, draft: Draft) -> None:
    draft.base(object_phrase(rest)[1])
    draft.op("variation")


def read_clause(clause: str, draft: Draft) -> None:
    found = verb_of(clause)
    kind, verb, rest = found if found else ("describe", "", clause)
    if kind == "restyle" and verb in ("use", "apply", "transfer", "give", "match"):
        if verb == "use" and " instead of " in rest:
            new, _, old = rest.partition(" instead of ")
            return _replace("replace", f"{old} with {new}", draft)
        return _restyle(verb, rest, None, draft)
    rest, style = take_style(rest, draft)
    if style is not None and not rest and kind in ("make", "restyle", "describe"):
        draft.base(WHOLE)  # "paint everything like [monet]", "[photo] in the style of [x]"
        draft.op("restyle", "", style)
        return None
    if kind == "describe" and re.fullmatch(REF, rest) and style is not None:
        draft.base(rest.strip("[]"))
        draft.op("restyle", "", style)
        return None
    if kind == "generate" or kind == "describe":
        return _describe(rest, draft)
    if kind == "add" and not ref_names(rest) and "image" not in draft.assets.values():
        return _describe(rest, draft)  # "put a triangle under a circle" on an empty canvas
    readers = {
        "add": lambda: _add(verb, rest, draft),
        "remove": lambda: _remove(verb, rest, draft),
        "replace": lambda: _replace(verb, rest, draft),
        "recolor": lambda: _recolor(rest, draft),
        "move": lambda: _move(rest, draft),
        "variation": lambda: _variation(rest, draft),
        "restyle": lambda: _restyle(verb, rest, style, draft),
        "make": lambda: _make(verb, rest, style, draft),
    }
    if kind == "add" and style is not None and not rest:
        raise NotCanonicalError("nothing to add")
    readers[kind]()
    if style is not None and kind not in ("make", "restyle"):
        draft.op("restyle", "", style)
    return None
