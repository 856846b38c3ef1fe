"""The deterministic fast path: canonical instructions -> EditPlan without an LLM.

It reads imperative clauses ("add [dog] to [photo]", "remove the umbrella from [beach]", "make the
jacket in [jacket] dark green", ...) and free-text descriptions ("a lighthouse in a storm"),
joined by "and", "," or "then" into ONE plan with several ops. "it", "everything" and "the image"
refer back to the base. Anything it cannot read with confidence raises :class:`NotCanonicalError`,
which the planner takes as the signal to ask the LLM instead; it never guesses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from anypix.errors import AnypixError, EmptyInstructionError, UnknownAssetError
from anypix.plan import Blob, EditPlan, Op

Modality = Literal["image", "audio"]
_REF = r"\[([A-Za-z0-9_][A-Za-z0-9_.\-]{0,63})\]"
_ANY_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_WHOLE = "<whole>"  # the base, named by "it", "everything", "the image"...


class NotCanonicalError(AnypixError):
    """The instruction is not one of the forms the fast path reads; the planner asks the LLM."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"the fast path cannot read this instruction: {message}",
            "rephrase it canonically (e.g. 'add [dog] to [photo] and remove the cat') "
            "or plan with an LLM backend (--llm smollm2)",
        )


@cache
def lexicon() -> dict[str, Any]:
    from anypix import prompts

    data: dict[str, Any] = json.loads(prompts.read("lexicon.json"))
    return data


def _words(key: str) -> list[str]:
    return sorted(lexicon()[key], key=len, reverse=True)  # longest first: "get rid of" before "get"


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in words)


# -- clause splitting -------------------------------------------------------------------------------

_LEAD = re.compile(
    r"^(?:please|kindly|also|then|and|now|next|finally|lastly|after that|just|ok(?:ay)?|"
    r"(?:could|can|would|will) you(?: please)?|i(?:'d| would) like(?: you)? to|"
    r"i want(?: you)? to|let's|lets|go ahead and|try to)\b[\s,]*",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"(\s*;\s*|\.\s+|\s*,\s*(?:and then|then|and|also)?\s*|\s+and then\s+|\s+then\s+|"
    r"\s+and\s+|\s+after that,?\s+|\s+also\s+)",
    re.IGNORECASE,
)


def _strip_lead(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _LEAD.sub("", text).strip()
    return text


def _verb_of(clause: str) -> tuple[str, str, str] | None:
    """(kind, verb, rest) when the clause starts with a known verb."""
    lowered = clause.lower()
    for kind, verbs in lexicon()["verbs"].items():
        for verb in sorted(verbs, key=len, reverse=True):
            if re.match(rf"{re.escape(verb)}\b", lowered):
                return kind, verb, clause[len(verb) :].strip()
    return None


def split_clauses(text: str) -> list[str]:
    """Split at separators that start a new verb-led clause; other separators stay inside (lists
    like "the pen and the notebook", descriptions like "a lighthouse in a storm, oil painting")."""
    parts = _SEPARATOR.split(text)
    clauses = [parts[0]]
    for sep, chunk in zip(parts[1::2], parts[2::2], strict=True):
        stripped = _strip_lead(chunk)
        if stripped and _verb_of(stripped) is not None and not _is_list_continuation(clauses[-1]):
            clauses.append(stripped)
        else:
            clauses[-1] += sep + chunk
    return [_strip_lead(c) for c in clauses if _strip_lead(c)]


def _is_list_continuation(previous: str) -> bool:
    # "add [pig] and place..." is two clauses, but a dangling preposition means the next word
    # continues the previous phrase ("move it to the left and ...").
    return bool(re.search(r"\b(?:of|to|with|from|for|the|a|an)$", previous.strip(), re.IGNORECASE))


# -- the draft plan ---------------------------------------------------------------------------------


@dataclass
class _Draft:
    assets: Mapping[str, Modality]
    bases: list[str] = field(default_factory=list)
    subs: list[str] = field(default_factory=list)
    style_refs: list[str] = field(default_factory=list)
    ops: list[dict[str, Any]] = field(default_factory=list)
    gen_text: list[str] = field(default_factory=list)
    generating: bool = False

    def op(self, kind: str, target: str = "", ref: str | None = None, place: str = "") -> None:
        self.ops.append({"op": kind, "target": _clean(target), "ref": ref, "place": place})
        if ref is not None and kind != "restyle" and ref not in self.subs:
            self.subs.append(ref)

    def base(self, name: str | None) -> None:
        if name is not None:
            self.bases.append(name)

    def style(self, name: str) -> None:
        self.style_refs.append(name)


def _clean(text: str) -> str:
    """Refs become plain names in free text; stray punctuation and articles at the ends go."""
    text = re.sub(_REF, r"\1", text)
    text = re.sub(r"\s+", " ", text).strip(" ,.;:!?")
    return text


def _refs(text: str) -> list[str]:
    return re.findall(_REF, text)


# -- phrases shared by the clause readers -----------------------------------------------------------


def _style_pattern() -> re.Pattern[str]:
    nouns = _alternation(_words("style_nouns"))
    return re.compile(
        rf",?\s*(?:(?:all|everything)\s+)?(?:"
        rf"(?:in|with|using)\s+(?:the\s+)?(?:same\s+)?(?:{nouns})\s+(?:of|from|as)\s+{_REF}|"
        rf"(?:in|with)\s+{_REF}(?:'s)?\s+(?:{nouns})|"
        rf"(?:the\s+)?same\s+(?:{nouns})\s+as\s+{_REF}|"
        rf"(?:styled|inspired|influenced)\s+(?:after|by)\s+{_REF}|"
        rf"(?:look|looks|looking|feel|feels|feeling|sound|sounds|seem)\s+like\s+{_REF}|"
        rf"(?:just\s+)?like\s+{_REF}|(?:a la|à la)\s+{_REF})",
        re.IGNORECASE,
    )


def _take_style(clause: str, draft: _Draft) -> tuple[str, str | None]:
    """Remove a style phrase naming an asset; returns (rest, style asset)."""
    match = _style_pattern().search(clause)
    if match is None:
        return clause, None
    name = next(g for g in match.groups() if g)
    draft.style(name)
    return (clause[: match.start()] + " " + clause[match.end() :]).strip(" ,"), name


def _whole(text: str) -> bool:
    return _clean(text).lower() in lexicon()["whole_image"]


def _object(phrase: str) -> tuple[str, str | None]:
    """Split "the jacket in [jacket]" into (target, base): the ref names the image edited."""
    phrase = phrase.strip(" ,")
    if _whole(phrase):
        return "", _WHOLE
    refs = _refs(phrase)
    if not refs:
        return phrase, None
    if len(refs) > 1:
        raise NotCanonicalError(f"{phrase!r} names several images")
    if re.fullmatch(_REF, phrase):
        return "", refs[0]
    match = re.fullmatch(
        rf"(.*?)\s*\b(?:in|of|from|on|inside|within|at)\s+(?:the\s+)?(?:image\s+|photo\s+)?{_REF}",
        phrase,
        re.IGNORECASE,
    )
    if match:
        return match.group(1), match.group(2)
    match = re.fullmatch(rf"{_REF}'s\s+(.+)", phrase)
    if match:
        return match.group(2), match.group(1)
    raise NotCanonicalError(f"cannot tell which image {phrase!r} edits")


def _items(text: str) -> list[str]:
    """A list of objects: "the pen, the cup and the notebook"."""
    items = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*", text.strip())
    return [item for item in items if item.strip()]


def _color_split(text: str) -> tuple[str, str] | None:
    """("the jacket", "dark green") when text ends with a colour phrase."""
    words = text.split()
    colors, modifiers = set(lexicon()["colors"]), set(lexicon()["color_modifiers"])
    start = len(words)
    while start > 0 and words[start - 1].lower().strip(",") in colors | modifiers:
        start -= 1
    tail = [w.lower() for w in words[start:]]
    while tail and tail[0] in modifiers - colors:  # modifiers must lead into a colour
        if not any(w in colors for w in tail):
            break
        if tail[0] in ("and", "of", "-"):
            start, tail = start + 1, tail[1:]
            continue
        break
    if not any(w in colors for w in tail):
        return None
    return " ".join(words[:start]), " ".join(words[start:])


def _region_pattern() -> re.Pattern[str]:
    from anypix.agent.layout import REGION_WORDS

    return re.compile(
        rf"\s*\b(?:(?:on|to|at|in|into|towards?)\s+(?:the\s+)?)?(?:far\s+|very\s+)?"
        rf"(?:{_alternation(sorted(REGION_WORDS, key=len, reverse=True))})"
        rf"(?:\s+(?:side|corner|edge|half|part|third))?"
        rf"(?:\s+of\s+(?:the\s+)?(?:image|picture|photo|frame|scene|canvas|it))?\s*$",
        re.IGNORECASE,
    )


def _take_region(text: str) -> tuple[str, str]:
    """Split a trailing canvas-region phrase ("on the left", "in the top right corner") off."""
    match = _region_pattern().search(text)
    if match is None or not match.group(0).strip():
        return text, ""
    return text[: match.start()].strip(" ,"), match.group(0).strip()


# -- clause readers ---------------------------------------------------------------------------------

_DEST = rf"\b(?:to|into|onto|in|on|over|inside|within|at)\s+(?:the\s+)?(?:image\s+|photo\s+)?{_REF}"


def _add(rest: str, draft: _Draft) -> None:
    rest, place = _take_region(rest)
    base = None
    match = re.search(rf"\s*{_DEST}\s*$", rest, re.IGNORECASE)
    if match:
        base, rest = match.group(1), rest[: match.start()]
    elif re.search(r"\s+(?:to|into|onto|in)\s+(?:it|the image|the picture|the photo)$", rest):
        base, rest = _WHOLE, re.sub(r"\s+\w+\s+(?:it|the \w+)$", "", rest)
    rest, region = _take_region(rest)
    place = place or region
    if _whole(rest) or rest.lower() in ("them", "him", "her"):  # "put it on the left"
        _place_previous(draft, place)
        return
    draft.base(base)
    for item in _items(rest):
        refs = _refs(item)
        if len(refs) > 1:
            raise NotCanonicalError(f"cannot tell what {item!r} adds")
        # "the scarf from [scarf] on the girl": the ref is the source, the text says what
        target = re.sub(rf"\s+(?:from|of)\s+{_REF}", "", item) if refs else item
        target = target if target.strip() else refs[0]
        draft.op("add", target, refs[0] if refs else None, place)


def _place_previous(draft: _Draft, place: str) -> None:
    added = [op for op in draft.ops if op["op"] in ("add", "move")]
    if not added or not place:
        raise NotCanonicalError("'it' has nothing earlier to refer to")
    added[-1]["place"] = place


def _remove(verb: str, rest: str, draft: _Draft) -> None:
    match = re.fullmatch(
        rf"(.+?)\s+(?:from|out of|in|of|off)\s+(?:the\s+)?(?:image\s+|photo\s+)?{_REF}",
        rest,
        re.IGNORECASE,
    )
    if match:
        rest, base = match.group(1), match.group(2)
        draft.base(base)
    elif re.search(r"\s+(?:from|out of)\s+(?:it|the image|the picture|the photo)$", rest):
        rest = re.sub(r"\s+(?:from|out of)\s+(?:it|the \w+)$", "", rest)
        draft.base(_WHOLE)
    rest = re.sub(r"\s+(?:out|away|off)$", "", rest)
    if verb == "take" and not match:
        raise NotCanonicalError("'take' without 'out of [image]'")
    for item in _items(rest):
        refs = _refs(item)
        draft.op("remove", item, refs[0] if refs else None)


def _replace(verb: str, rest: str, draft: _Draft) -> None:
    rest = re.sub(r"^out\s+", "", rest)
    match = re.fullmatch(r"(.+?)\s+(?:with|for|by|to|into)\s+(.+)", rest, re.IGNORECASE)
    if match is None:
        raise NotCanonicalError(f"'{verb}' needs 'X with Y'")
    old, new = match.group(1), match.group(2)
    if verb == "substitute" and " for " in match.group(0):
        old, new = new, old  # "substitute Y for X": Y goes where X was
    old_target, base = _object(old)
    draft.base(base)
    new_target, new_ref = _object(new)
    if new_ref == _WHOLE:
        raise NotCanonicalError("cannot replace something with the whole image")
    if new_ref is None:
        draft.op("replace", f"{old_target} with {new_target}")
    else:
        draft.op("replace", old_target or new_ref, new_ref)


def _recolor(rest: str, draft: _Draft) -> None:
    split = _color_split(rest)
    if split is None:
        raise NotCanonicalError(f"no colour in {rest!r}")
    target, base = _object(re.sub(r"\s+(?:in|to)$", "", split[0]))
    draft.base(base)
    draft.op("recolor", f"{target or 'everything'} {split[1]}")


def _move(rest: str, draft: _Draft) -> None:
    rest, place = _take_region(rest)
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
    target, base = _object(obj)
    if base == _WHOLE and not target and draft.ops:
        _place_previous(draft, place or where)
        return
    draft.base(base)
    draft.op("move", f"{target} {where or place}", None, place)


def _restyle(verb: str, rest: str, style: str | None, draft: _Draft) -> None:
    nouns = _alternation(_words("style_nouns"))
    use = re.fullmatch(
        rf"(?:the\s+)?((?:{nouns}))\s+(?:of|from)\s+{_REF}\s+(?:on|to|onto|for|in)\s+(.+)",
        rest,
        re.IGNORECASE,
    )
    give = re.fullmatch(rf"(.+?)\s+(?:the|a)\s+((?:{nouns}))\s+(?:of|from)\s+{_REF}", rest, re.I)
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
    target, base = _object(obj)
    draft.base(base)
    aspect = "" if aspect.lower() == "style" else aspect
    draft.op("restyle", " ".join(p for p in (target, aspect) if p), style)


def _make(verb: str, rest: str, style: str | None, draft: _Draft) -> None:
    """make / turn / paint / render / change / convert: recolor, restyle, replace or generate."""
    lowered = rest.lower()
    variation = re.fullmatch(rf"(?:a |an |some |\w+ )?(?:variations?|versions?) of {_REF}", lowered)
    if variation:
        draft.base(variation.group(1))
        draft.op("variation")
        return
    change = re.fullmatch(r"(?:the )?colou?r of (.+?) (?:to|into) (.+)", rest, re.IGNORECASE)
    if change:
        rest = f"{change.group(1)} {change.group(2)}"
    into = re.fullmatch(r"(.+?)\s+(?:into|to)\s+(.+)", rest, re.IGNORECASE)
    if into and verb in ("turn", "change", "convert", "transform") and not _color_split(rest):
        obj_target, base = _object(into.group(1))
        if base == _WHOLE or (base and not obj_target):
            draft.base(base)
            draft.op("restyle", into.group(2), style)
        else:
            _replace("replace", f"{into.group(1)} with {into.group(2)}", draft)
        return
    if not _refs(rest) and not re.match(rf"({_alternation(_words('whole_image'))})\b", lowered):
        if verb in ("make", "paint", "render", "draw") and re.match(r"(an?|the|some|\d+|one|two)\b", lowered):
            if not _color_split(rest) or re.match(r"an? ", lowered):
                _describe(rest, draft)
                return
    if _color_split(rest):
        _recolor(rest, draft)
        return
    if any(w in lowered.split() for w in lexicon()["size_words"]):
        raise NotCanonicalError("resizing is not an op")
    obj, aspect = _split_object(rest)
    target, base = _object(obj)
    if base is None:
        raise NotCanonicalError(f"cannot tell which image '{verb} {rest}' edits")
    if style is None and not aspect:
        raise NotCanonicalError(f"'{verb}' needs a colour, a style or a description")
    draft.base(base)
    aspect = re.sub(r"^(?:look|feel|seem|appear|like|as|in|into)\s+(?:like\s+)?", "", aspect)
    draft.op("restyle", " ".join(p for p in (target, aspect) if p), style)


def _split_object(rest: str) -> tuple[str, str]:
    """"the jacket in [jacket] a bit darker" -> object up to the image name, then the rest."""
    whole = re.match(rf"({_alternation(_words('whole_image'))})\b\s*(.*)", rest, re.IGNORECASE)
    if whole:
        return whole.group(1), whole.group(2)
    match = re.match(rf"(.*?{_REF}(?:'s\s+\w+)?)\s*(.*)", rest)
    if match:
        return match.group(1), match.group(3)
    return rest, ""


def _describe(text: str, draft: _Draft) -> None:
    """A description of a new image ("a lighthouse in a storm, oil painting")."""
    variation = re.fullmatch(
        rf"(?:a |an |some |\w+ )?(?:variations?|versions?|alternatives?) (?:of|on) {_REF}",
        text.strip(),
        re.IGNORECASE,
    )
    if variation:
        draft.base(variation.group(1))
        draft.op("variation")
        return
    first = text.split()[0].lower() if text.split() else ""
    if first in lexicon()["unsupported_verbs"]:
        raise NotCanonicalError(f"'{first}' is not an op the plan language has")
    text = re.sub(
        r"^(?:me\s+)?(?:(?:an?|the)\s+(?:image|picture|photo|drawing|render|illustration)\s+of\s+)?",
        "",
        text,
        flags=re.IGNORECASE,
    )
    for name in _refs(text):
        if re.search(rf"\b(?:on|in|into|to|onto|with|without|but)\s+\[{re.escape(name)}\]", text):
            raise NotCanonicalError(f"cannot tell whether [{name}] is edited or shown")
        if name not in draft.subs:
            draft.subs.append(name)
    draft.generating = True
    draft.gen_text.append(_clean(text))


def _clause(clause: str, draft: _Draft) -> None:
    found = _verb_of(clause)
    kind, verb, rest = found if found else ("describe", "", clause)
    if kind == "restyle" and verb in ("use", "apply", "transfer", "give"):
        if verb == "use" and " instead of " in rest:
            new, _, old = rest.partition(" instead of ")
            return _replace("replace", f"{old} with {new}", draft)
        return _restyle(verb, rest, None, draft)
    rest, style = _take_style(rest, draft)
    if kind == "generate" or kind == "describe":
        return _describe(rest, draft)
    if style is not None and not rest and kind in ("make", "restyle"):
        raise NotCanonicalError(f"'{verb}' what?")
    readers = {
        "add": lambda: _add(rest, draft),
        "remove": lambda: _remove(verb, rest, draft),
        "replace": lambda: _replace(verb, rest, draft),
        "recolor": lambda: _recolor(rest, draft),
        "move": lambda: _move(rest, draft),
        "variation": lambda: (draft.base(_object(rest)[1]), draft.op("variation")),
        "restyle": lambda: _restyle(verb, rest, style, draft),
        "make": lambda: _make(verb, rest, style, draft),
    }
    if kind == "add" and style is not None and not rest:
        raise NotCanonicalError("nothing to add")
    readers[kind]()
    if style is not None and kind not in ("make", "restyle"):
        draft.op("restyle", "", style)
    return None


# -- assembling the plan ----------------------------------------------------------------------------


def _check_refs(text: str, assets: Mapping[str, Modality]) -> None:
    for inside in _ANY_BRACKET.findall(text):
        if inside not in assets:
            raise UnknownAssetError(inside, list(assets))


def _single(names: list[str], what: str) -> str | None:
    distinct = list(dict.fromkeys(n for n in names if n != _WHOLE))
    if len(distinct) > 1:
        raise NotCanonicalError(f"several {what}s: {', '.join(distinct)}")
    return distinct[0] if distinct else None


def _build(draft: _Draft) -> EditPlan:
    from anypix.agent.layout import place_blob, scene_blobs

    style_ref = _single(draft.style_refs, "style reference")
    base = _single(draft.bases, "base image")
    edits = [op for op in draft.ops if op["op"] != "generate"]
    if draft.generating and (edits or base):
        raise NotCanonicalError("it both describes a new image and edits one")
    if base is None and edits:
        used = {*draft.subs, style_ref}
        free = [n for n, m in draft.assets.items() if m == "image" and n not in used]
        if len(free) != 1:
            raise NotCanonicalError("it does not say which image to edit")
        base = free[0]
    subs = [s for s in draft.subs if s != style_ref]
    if base in subs:
        raise NotCanonicalError(f"[{base}] is both the image edited and a reference")
    if draft.generating:
        gen = ", ".join(draft.gen_text)
        return EditPlan(
            subs=subs, gen=gen, ops=[Op(op="generate")], blobs=scene_blobs(gen), style_ref=style_ref
        )
    ops, blobs, seen = [], [], set()
    for item in edits:
        ref = style_ref if item["op"] == "restyle" else item["ref"]
        key = (item["op"], item["target"], ref)
        if key in seen:  # "in the style of [x]" said twice is one restyle
            continue
        seen.add(key)
        ops.append(Op(op=item["op"], target=item["target"][:300], ref=ref))
        if item["place"]:
            blob: Blob | None = place_blob(item["target"] or item["op"], item["place"])
            if blob is not None:
                blobs.append(blob)
    return EditPlan(
        base=base, subs=subs, gen=_edit_gen(ops), ops=ops, blobs=blobs, style_ref=style_ref
    )


def _edit_gen(ops: list[Op]) -> str:
    """InstructAny2Pix's [gen] for an edit: a short description of what the result shows."""
    phrase = {
        "add": "with {t}",
        "remove": "without {t}",
        "replace": "{t} replaced",
        "recolor": "{t}",
        "restyle": "{t}",
        "move": "{t} moved",
        "variation": "a variation",
    }
    parts = []
    for op in ops:
        target = op.target or (f"in the style of {op.ref}" if op.op == "restyle" else "")
        if op.op == "replace" and op.ref:
            target = f"{op.target} replaced by {op.ref}"
            parts.append(target)
            continue
        if target or op.op == "variation":
            parts.append(phrase[op.op].format(t=target))
    return "; ".join(parts)[:1000]


def normalise(text: str) -> str:
    text = " ".join(text.replace("\u2019", "'").split())
    return _strip_lead(text.rstrip(" .!?")).rstrip(" ,")


def parse_instruction(text: str, assets: Mapping[str, Modality]) -> EditPlan:
    """Read a canonical instruction into an :class:`EditPlan`.

    Raises :class:`UnknownAssetError` for a ``[name]`` that is not in ``assets``,
    :class:`EmptyInstructionError` for blank text and :class:`NotCanonicalError` for anything the
    fast path cannot read with confidence (the planner then asks the LLM).
    """
    if not text.strip():
        raise EmptyInstructionError()
    _check_refs(text, assets)
    text = normalise(text)
    text = re.sub(r",?\s+please$", "", text, flags=re.IGNORECASE)
    if not text:
        raise EmptyInstructionError()
    draft = _Draft(assets)
    for clause in split_clauses(text):
        _clause(clause, draft)
    return _build(draft)
