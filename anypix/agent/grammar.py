"""The deterministic fast path: instructions -> EditPlan without an LLM.

It reads imperative clauses ("add [dog] to [photo]", "remove the umbrella from [beach]", "make the
jacket in [jacket] dark green", ...) and free-text descriptions ("a lighthouse in a storm"),
joined by "and", "," or "then" into ONE plan with several ops. Everyday phrasing ("the bins
should be gone", "what if the car was blue?", typos in the verb) is first rewritten into those
clauses (:mod:`anypix.agent.everyday`). "it", "this", "the picture" and an edit that names no
image refer to the image :mod:`anypix.agent.defaults` picks: the one attached this turn, else the
session's current image. Anything it cannot read with confidence raises
:class:`NotCanonicalError`, which the planner takes as the signal to ask the LLM instead; what it
reads but finds ambiguous (two candidate images, an attachment left out, "remove that") raises
:class:`ClarificationNeeded` with the question for the person. It never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from pydantic import ValidationError

from anypix.agent.clauses import read_clause
from anypix.agent.defaults import (
    LAST,
    Answer,
    ask_about_unused,
    attached_names,
    default_base,
    take_answer,
)
from anypix.agent.everyday import PLACES, rewrite
from anypix.agent.phrases import WHOLE, Draft, NotCanonicalError, clean, color_split, verb_of
from anypix.errors import EmptyInstructionError, UnknownAssetError
from anypix.plan import EditPlan, Op

__all__ = [
    "NotCanonicalError",
    "check_references",
    "normalise",
    "parse_instruction",
    "said_plainly",
    "split_clauses",
    "split_counted_adds",
]

_ANY_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_ALSO = re.compile(r",?\s+(?:as well|too)[.!]*$", re.IGNORECASE)
_DEGREE_OR_BE = {"way", "far", "much", "bit", "tad", "also", "is", "are", "was", "not", "it's", "and"}


def _drop_also(text: str) -> str:
    """``text`` without a closing "as well" or "too" ("make the other car blue as well"): said
    of this edit beside an earlier one, not a part of it ("way too", "it's too" are left)."""
    match = _ALSO.search(text)
    if match is None:
        return text
    before = text[: match.start()].split()
    return text if not before or before[-1].lower() in _DEGREE_OR_BE else text[: match.start()]


# -- clause splitting -------------------------------------------------------------------------------

_LEAD = re.compile(
    r"^(?:please|kindly|also|then|and|now|next|first|finally|lastly|after that|just|ok(?:ay)?|so|"
    r"(?:could|can|would|will) you(?: please| possibly)?|i(?:'d| would) like(?: you)? to|"
    r"i want(?: you)? to|let's|lets|go ahead and|try to|actually|keep going|carry on|"
    r"(?:(?:it|that|this)?\s*(?:'s|is|looks)\s+(?:really\s+|so\s+|very\s+)?)?"
    r"(?:nice|great|cool|perfect|good|awesome|thanks|thank you|lovely|beautiful|amazing|brilliant|"
    r"much better|better|love it|love this|hmm+|hm|alright|oh|oops|well|wait|yeah|yes|sure|"
    r"nah|nope|no|meh|ah|um+|hey|ooh|wow)"
    r"(?=\s*[,.!]))\b[\s,.!]*",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"(\s*;\s*|\.\s+|\s*,\s*(?:and then|then|and|also)?\s*|\s+and then\s+|\s+then\s+|"
    r"\s+and\s+|\s+plus\s+|\s+after that,?\s+|\s+also\s+)",
    re.IGNORECASE,
)


def said_plainly(text: str, assets: Mapping[str, str]) -> str:
    """``text`` in the grammar's canonical words, clause by clause ("zap the ring" -> "remove the
    ring", "it'd be cool with a moon" -> "add a moon"): what it asks for, without the idiom."""
    clauses = split_clauses(_strip_lead(text), assets)
    return "; ".join(rewrite(_strip_lead(clause), assets) for clause in clauses)


# Hedges, a back-story and what is to stay as it was, before the request: "if possible, ...",
# "not sure if this works but ...", "so I took this at the lake and ...", "keep the people but
# ...", "don't touch anything else, just ...". What they keep is what any edit keeps.
_ASIDE = re.compile(
    r"^(?:if (?:possible|you can|you could|it'?s possible|that'?s possible)|"
    r"(?:not sure|i'?m not sure|i don'?t know|dunno|no idea) (?:if|whether) (?:this|that|it) "
    r"(?:works|is possible|can be done|makes sense)(?:\s*,?\s*but)?|"
    r"(?:so\s+)?(?:i|we) (?:took|shot|snapped|made|drew|painted|got) (?:this|it|that)\b[^,\[]*?(?=,|\s+and\s|\s+but\s)(?:,?\s*(?:and|but))?|"
    r"keep\s+[^,\[]+?\s+but|"
    r"(?:don'?t|do not) (?:touch|change|alter|mess with) (?:anything|everything)(?: else)?)"
    r"(?=[\s,.!:;-])[\s,.!:;-]*(?:just\s+)?",
    re.IGNORECASE,
)
# A clause that only says what stays: "leave the sky alone", "keep everything else as it is".
_KEPT = re.compile(
    r"^(?:leave\s+.+?\s+(?:alone|as (?:it is|is|they are)|untouched|be)|"
    r"keep\s+.+?|"  # "keep everything (else) as it is", "keep the people"
    r"(?:don'?t|do not) (?:touch|change|alter|mess with) (?:anything|everything|the rest)(?: else)?)$",
    re.IGNORECASE,
)


def _strip_lead(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _ASIDE.sub("", _LEAD.sub("", text).strip()).strip()
    return text


def split_clauses(text: str, assets: Mapping[str, str] | None = None) -> list[str]:
    """Split at separators that start a new verb-led clause (after everyday rewrites: "the bins
    should be gone" leads with "remove"); other separators stay inside (lists like "the pen and
    the notebook", descriptions like "a lighthouse in a storm, oil painting")."""
    parts = _SEPARATOR.split(text)
    clauses = [parts[0]]
    for sep, chunk in zip(parts[1::2], parts[2::2], strict=True):
        stripped = _strip_lead(chunk)
        leads = stripped and verb_of(rewrite(stripped, assets or {})) is not None
        gapped = None if leads else _gapped(clauses[-1], sep, stripped)
        if leads and not _is_list_continuation(clauses[-1]):
            clauses.append(stripped)
        elif gapped:
            clauses.append(gapped)
        else:
            clauses[-1] += sep + chunk
    clauses = [_strip_lead(c) for c in clauses if _strip_lead(c)]
    edits = [c for c in clauses if not _KEPT.match(c)]  # "leave the sky alone and ..."
    return edits or clauses


_COLOUR_VERB = re.compile(r"^(?:.*\s)?(make|turn|paint|colou?r|dye)\s+\S", re.IGNORECASE)


def _gapped(previous: str, sep: str, chunk: str) -> str | None:
    """ "make the car red and the door blue": the second object's colour said without its verb,
    a clause of its own ("make the door blue"); None for anything else."""
    verb = _COLOUR_VERB.match(previous)
    if verb is None or not re.fullmatch(r"\s*(?:,|and|,\s*and)\s*", sep, re.IGNORECASE):
        return None
    owned = re.match(r"(?:the|his|her|its|their|my|our)\s", chunk, re.IGNORECASE)
    if color_split(previous) is None or owned is None:
        return None
    split = color_split(chunk)
    return f"{verb.group(1)} {chunk}" if split is not None and split[0].strip() else None


def _is_list_continuation(previous: str) -> bool:
    # "add [pig] and place..." is two clauses, but a dangling preposition means the next word
    # continues the previous phrase ("move it to the left and ...").
    return bool(re.search(r"\b(?:of|to|with|from|for|the|a|an)$", previous.strip(), re.IGNORECASE))


# -- assembling the plan ----------------------------------------------------------------------------


def check_references(text: str, assets: Mapping[str, str]) -> list[str]:
    """The ``[names]`` in text, in order; raises :class:`UnknownAssetError` for one not attached."""
    names = _ANY_BRACKET.findall(text)
    for inside in names:
        if inside not in assets:
            raise UnknownAssetError(inside, list(assets))
    return names


def _single(names: list[str], what: str) -> str | None:
    distinct = list(dict.fromkeys(n for n in names if n != WHOLE))
    if len(distinct) > 1:
        raise NotCanonicalError(f"several {what}s: {', '.join(distinct)}")
    return distinct[0] if distinct else None


_ADD_POINTED = re.compile(r"^(add|put|stick|place|pop|drop|paste)\s+(?:this one|that one|it|this|that)\b|"
                          r"^(add|stick|pop|drop|paste)\s+(?:him|her)\b", re.IGNORECASE)  # fmt: skip
_INTO = r"(?:on|onto|in|into|at|by|near|next to|beside|under|over|above|behind|in front of)"
# "and this little guy on the fence", "add that fella": the attachment, as the thing added (not
# "make this dude wear sunglasses": someone the picture has)
_THIS_GUY = re.compile(r"^((?:and|also|plus)\s+|(?:add|put|stick|pop|drop|place)\s+)?(?:this|that)\s+"
                       r"(?:(?:little|cute|small|tiny|big|funny|fine)\s+)?(?:guy|fella|fellow|chap|dude|critter)\b"
                       rf"(?=\s*$|\s+{_INTO}\s)", re.IGNORECASE)  # fmt: skip
_SWAP_FOR_THIS = re.compile(r"\b((?:swap|switch|exchange|replace|trade)\b.+?\s+(?:for|with))\s+(?:this|that)(?:\s+one)?\s*[.!]*$",
                            re.IGNORECASE)  # fmt: skip
# With one sound attached: "make it feel like this sounds", "add whatever makes this sound"
_LIKE_THIS_SOUNDS = re.compile(r"\b(?:like|the way)\s+(?:this|that|it)(?:\s+(?:one|sound|recording|clip|track|song))?\s+sounds\b",
                               re.IGNORECASE)  # fmt: skip
_MAKES_THIS_SOUND = re.compile(r"\b(?:whatever|what|whoever|(?:the thing|something|the animal|the creature)(?:\s+that)?)\s+"
                               r"(?:makes|is making|made|making)\s+"
                               r"(?:this|that|the)\s+(?:sound|noise)\b(?!\s+(?:of|in|on|from|at)\b)", re.IGNORECASE)  # fmt: skip
_ADD_THIS = re.compile(
    r"^(add|put|stick|pop|drop|throw in)\s+(?:this|that|it)(?:\s+(?:one|sound|in|too))?$", re.I
)


def _point_at_sound(text: str, name: str) -> str:
    """ "this" where only a sound can be meant: the one sound attached."""
    text = _LIKE_THIS_SOUNDS.sub(f"like [{name}]", text, count=1)
    text = _MAKES_THIS_SOUND.sub(f"[{name}]", text, count=1)
    return _ADD_THIS.sub(lambda m: f"{m.group(1)} [{name}]", text, count=1)


_LIKE_THIS = re.compile(
    r"\blike (?:this|that)(?: one| (?:picture|image|photo|painting|drawing))?\b(?! \w)",
    re.IGNORECASE,
)
_MORE_LIKE = re.compile(
    r"\b(?:one|ones|more|another|version|versions)\s+like\s+(?:this|that)\b", re.I
)
_AS_THE_STYLE = re.compile(
    r"\b(?:use|take|apply)\s+(?:this|that|it)(?: one)?\s+(?:as|for)\s+(?:the|a|my|our)\s+"
    r"(?:style|look|style reference|reference style|inspiration)\b",
    re.IGNORECASE,
)
_THIS_STYLE = re.compile(
    r"\b(in|with|using|use|give it)\s+(?:this|that) (?:style|look)\b(?! like)", re.IGNORECASE
)


_PLACED = re.compile(rf"^(?:on|onto|over|around|under|beside|next to|into)\s+(?:his|her|their|its|the)\s+"
                     rf"(?!{PLACES}|style\b)[^\[]+$", re.IGNORECASE)  # fmt: skip


def _point_at_attachment(
    text: str, assets: Mapping[str, str], attached: Collection[str] | None
) -> str:
    """ "add this to the sky" in a session with one image attached: "this" is the attachment, added
    to the current picture (an edit that names no image edits the attachment only when nothing
    else uses it)."""
    sounds = [n for n in attached_names(assets, attached) if assets[n] == "audio"]
    if len(sounds) == 1:
        text = _point_at_sound(text, sounds[0])
    fresh = [n for n in attached_names(assets, attached) if assets[n] == "image" and n != LAST]
    if assets.get(LAST) != "image" or len(fresh) != 1:
        return text
    name = fresh[0]
    # "and this little guy on the fence", "swap the couch for this one": the attachment
    text = _THIS_GUY.sub(lambda m: f"{m.group(1) or ''}[{name}]", text, count=1)
    text = re.sub(
        rf"^(?:and\s+|also\s+|plus\s+)?(\[{re.escape(name)}\]\s+{_INTO}\s+(?:the|his|her|their|its|my|our)\s)",
        r"put \1",
        text,
        flags=re.I,
    )
    text = _SWAP_FOR_THIS.sub(lambda m: f"{m.group(1)} [{name}]", text, count=1)
    if name.lower() not in _GENERIC_NAMES and re.fullmatch(r"[a-z]+", name, re.IGNORECASE):
        noun = re.escape(name)
        # "put this hat on him": "this hat" is the attachment, named once
        text = re.sub(rf"\b(?:this|that)\s+{noun}s?\b", f"[{name}]", text, count=1, flags=re.I)
        # "add a hat", "a hat on his head" with hat.png attached: the attachment is what is added
        text = re.sub(rf"^((?:add|put|stick|place|pop|drop|paste)\s+)?(?:an?|one)\s+{noun}\b",
                      lambda m: f"{m.group(1) or 'put '}[{name}]", text, count=1, flags=re.I)  # fmt: skip
    # "on his head", "onto the table": where the attachment goes in the current picture
    text = _PLACED.sub(lambda m: f"put [{name}] {m.group(0)}", text, count=1)
    text = _ADD_POINTED.sub(lambda m: f"{m.group(1) or m.group(2)} [{name}]", text, count=1)
    # "use this as the style": the attachment is the style of the current picture
    text = _AS_THE_STYLE.sub(f"restyle it like [{name}]", text, count=1)
    # "make it look like this", "paint it in this style": the attachment is the style
    if not _MORE_LIKE.search(text):  # "another one like this": a variation, not a style
        text = _LIKE_THIS.sub(f"like [{name}]", text, count=1)
    return _THIS_STYLE.sub(lambda m: f"{m.group(1)} the style of [{name}]", text, count=1)


_BOTH = re.compile(r"\b(?:both(?: of (?:them|these|those))?|them both|all (?:of them|three|four)|"
                   r"(?:these|those|the) (?:two|three|four)(?: (?:things|ones|pictures|images|photos|pics))?)\b",
                   re.IGNORECASE)  # fmt: skip
_GENERIC_NAMES = frozenset(["photo", "image", "picture", "pic", "shot", "the", "this", "that", "it", "one", "last"])  # fmt: skip


def _name_attachments(
    text: str, assets: Mapping[str, str], attached: Collection[str] | None
) -> str:
    """ "put the dog into the beach photo" with dog.jpg and beach.jpg attached: attachments named
    in words, without brackets, become references ("[dog]", "[beach]"); so does "my dog" with a
    dog attached in a session. Only with two or more images to choose from (one is the default
    already), none bracketed, and names of three letters or more that are not words for a
    picture ("the beach photo", "the sunset one" name them too). With two attached and one
    bracketed, "the other one" is the other."""
    fresh = [n for n in attached_names(assets, attached) if n != LAST]
    candidates = len(fresh) + (assets.get(LAST) == "image")  # the current picture is one too
    named = [n for n in fresh if f"[{n}]" in text]
    if len(fresh) == 2 and len(named) == 1:  # "make [a] look like the other one"
        other = next(n for n in fresh if n not in named)
        text = re.sub(r"\bthe other(?: (?:one|photo|picture|image|pic|shot))?\b", f"[{other}]",
                      text, count=1, flags=re.IGNORECASE)  # fmt: skip
    if candidates < 2 or "[" in text:
        return text
    if len(fresh) >= 2:  # "put the first one into the second", "image 2": in the order attached
        for index, ordinal in enumerate(("first", "second", "third", "fourth")[: len(fresh)]):
            said = rf"(?:{ordinal}|{index + 1}(?:st|nd|rd|th))"
            text = re.sub(rf"\bthe {said}(?: (?:one|photo|picture|image|pic|shot|attachment))?\b",
                          f"[{fresh[index]}]", text, count=1, flags=re.IGNORECASE)  # fmt: skip
            text = re.sub(rf"\b(?:the\s+)?(?:image|picture|pic|photo|img|attachment|file)\s*(?:no\.?\s*|#\s*)?{index + 1}\b",
                          f"[{fresh[index]}]", text, count=1, flags=re.IGNORECASE)  # fmt: skip
    for name in fresh:
        if len(name) < 3 or name.lower() in _GENERIC_NAMES or not re.fullmatch(r"[A-Za-z]+", name):
            continue
        # "the sunset photo", "the sunset one" (not "the dog one more time")
        pattern = (rf"\b(?:the|my|this|that|our|your)\s+{re.escape(name)}s?"
                   rf"(?:\s+(?:photo|picture|image|pic|shot|recording|sound|clip|track|song|audio|"
                   rf"one(?!\s+(?:more|of|by|at)\b)))?\b")  # fmt: skip
        text = re.sub(pattern, f"[{name}]", text, count=1, flags=re.IGNORECASE)
    # "put both of them in the garden": the attachments no words name yet
    unnamed = [n for n in fresh if f"[{n}]" not in text and assets[n] == "image"]
    if len(unnamed) >= 2 and "[" in text:
        text = _BOTH.sub(" and ".join(f"[{n}]" for n in unnamed), text, count=1)
    return text


# A sentence or a thank-you inside an op's target is a clause the readers took for its words.
_UNREAD = re.compile(r"\.\s|\b(?:thanks|thank you)\b", re.IGNORECASE)


# "the lamp is ugly, get rid of it", "there's a car on the left, remove it", "I don't like the
# sofa, make it red": a remark names the object, then an edit points back at it.
_REMARK = re.compile(
    r"^(?:(?:there(?:'s| is| are)|i (?:don't|do not|really don't) like|i hate|i love|see|"
    r"look at|notice|check out|you see)\s+)?"
    r"(?P<obj>(?:the|that|this|those|these|his|her|their|my|our|an?)\s+[\w'-]+(?:\s+[\w'-]+)?)"
    r"(?P<where>\s+(?:on|in|at)\s+the\s+(?:\w+\s+)?(?:left|right|top|bottom|middle|centre|center|"
    r"corner|background|foreground|back|front|sky)(?:\s+corner)?|"
    r"\s+(?:on|in|at|by|near|under|over|behind|next to)\s+the\s+[\w'-]+)?"
    r"(?:\s+(?:that|which|who)\s+[^,.;?!\[]+?)?"  # "... that ruins it"
    r"(?:\s+(?:is|are|looks?|seems?|feels?)\s+(?P<quality>[^,.;?!\[]+?))?\s*[,.;?!]+\s*(?P<edit>.+)$",
    re.IGNORECASE,
)
# "fix it", "can you sort that out": an edit that says only that the remark's quality is wrong
_FIX_IT = re.compile(
    r"^(?:fix|correct|sort out|repair|improve|sort)\s+(?:it|that|this)(?:\s+(?:up|out))?$", re.I
)
_TOO = re.compile(
    r"^(?:(?:a bit|a little|way|far|so|really|very|kind of|kinda|pretty|too)\s+)+", re.I
)
_BACK = re.compile(r"\b(it|them|him|her|that one|this one|that|this)\b", re.IGNORECASE)


def _resolve_remark(text: str, assets: Mapping[str, str]) -> str:
    """The edit of such a remark, with the object in place of "it"; ``text`` unchanged when the
    part after the remark is not an edit that points back."""
    match = _REMARK.match(text)
    if match is None or "[" in match.group("obj"):
        return text
    edit = _strip_lead(match.group("edit"))
    obj = re.sub(r"^(?:an?|that|this|those|these)\s+", "the ", match.group("obj"), flags=re.I)
    obj += match.group("where") or ""
    if match.group("quality") and _FIX_IT.match(edit):  # "the sky looks washed out, fix it"
        return f"make {obj} less {_TOO.sub('', match.group('quality'))}"
    found = verb_of(rewrite(edit, assets))
    if found is None or found[0] == "generate":
        return text
    verb_end = len(edit) - len(found[2]) if verb_of(edit) else 0
    pointer = _BACK.search(edit, verb_end)
    if pointer is None:
        return text
    return edit[: pointer.start()] + obj + edit[pointer.end() :]


def _answer_names_object(draft: Draft, reply: str) -> bool:
    """When ``reply`` says more exactly which object an op meant ("the red ring on the left" to
    "which ring should I remove?"), put it in place of the op's object ("the ring") and say so."""
    if verb_of(reply) is not None:
        return False
    nouns = [w for w in re.findall(r"[a-z]+", reply.lower()) if w not in _NOT_NOUNS]
    for op in draft.ops:
        for noun in nouns:
            # the phrase that names it: "the ring", or "the ring" in "a star left of the ring"
            # ... and a quantifier before it: "all the rings" (several: "which first?")
            head = re.search(rf"\b(?:(?:all|both|each|every)(?:\s+of)?\s+)?(?:(?:the|that|this)\s+"
                             rf"(?:(?!{_NOT_ADJECTIVE})[\w-]+\s+){{0,3}})?{re.escape(noun)}s?\b",
                             op["target"], re.IGNORECASE)  # fmt: skip
            if head and op["op"] != "generate":
                target = op["target"]
                op["target"] = target[: head.start()] + clean(reply) + target[head.end() :]
                return True
    return False


_NOT_ADJECTIVE = r"(?:the|that|this|of|to|on|in|at|by|with|and)\b"  # ends a noun phrase's run of words
_NOT_NOUNS = {"the", "a", "an", "one", "on", "at", "in", "of", "left", "right", "top", "bottom",
              "middle", "centre", "center", "side", "corner", "upper", "lower"}  # fmt: skip


def _build(draft: Draft, attached: Collection[str] | None, answer: Answer) -> EditPlan:
    from anypix.agent.layout import place_blobs, scene_blobs

    style_ref = _single(draft.style_refs, "style reference")
    base = _single(draft.bases, "base image")
    edits = [op for op in draft.ops if op["op"] != "generate"]
    if draft.generating and (edits or base):
        raise NotCanonicalError("it both describes a new image and edits one")
    subs = [s for s in draft.subs if s != style_ref]
    if draft.generating and answer.edit is None:
        ask_about_unused(draft.assets, attached, {*subs, style_ref or ""}, answer, None)
        gen = ", ".join(draft.gen_text)
        return EditPlan(
            subs=subs, gen=gen, ops=[Op(op="generate")], blobs=scene_blobs(gen), style_ref=style_ref
        )
    if draft.generating:  # "(edit [photo])": what was described is added to that image
        base, edits = answer.edit, [{"op": "add", "target": ", ".join(draft.gen_text),
                                     "ref": None, "place": ""}]  # fmt: skip
    if base is None and edits:
        base = default_base(draft.assets, {*subs, style_ref}, attached, answer.base)
    if base in subs:
        raise NotCanonicalError(f"[{base}] is both the image edited and a reference")
    ops, said, blobs, seen = [], [], [], set()  # said: the ops as said, before counts split
    for item in edits:
        if _UNREAD.search(item["target"]):  # "remove fridges. I'd rather have the giraffe left"
            raise NotCanonicalError(f"part of it was not read: '{item['target']}'")
        ref = style_ref if item["op"] == "restyle" else item["ref"]
        key = (item["op"], item["target"], ref)
        if key in seen:  # "in the style of [x]" said twice is one restyle
            continue
        seen.add(key)
        said.append(Op(op=item["op"], target=item["target"][:300], ref=ref))
        # "add two green triangles": an add of each, each in a blob of its own
        count, target = _each(item["op"], item["target"], ref)
        ops.extend([Op(op=item["op"], target=target[:300], ref=ref)] * count)
        if item["place"]:
            blobs.extend(place_blobs(target or item["op"], item["place"], count))
    plan = EditPlan(
        base=base, subs=subs, gen=_edit_gen(said), ops=ops, blobs=blobs, style_ref=style_ref
    )
    ask_about_unused(draft.assets, attached, plan.asset_names(), answer, base)
    return plan


# Counts said outright ("two", "3", "a pair of"), not "some" or "a few": at most this many are
# added one by one.
_EXACT_COUNT = re.compile(r"^(?:two|three|four|five|six|[2-6]|a pair of|a couple of)\s", re.I)
MAX_COUNTED_ADDS = 6
_WHERE_AFTER = re.compile(r"\s+(?=(?:in|on|at|by|near|under|over|into|onto|beside|behind|next to|"
                         r"around|across|along|above|below)\s)", re.IGNORECASE)  # fmt: skip


def _counted(target: str) -> tuple[int, str] | None:
    """(count, one of them) for an add of several said with an exact count ("two green
    triangles" -> 2, "a green triangle"); None otherwise."""
    from anypix.agent.scene import noun_phrase

    if not _EXACT_COUNT.match(target.strip()):
        return None
    # "two ducks in the pond": the things counted, then where they go ("a duck in the pond")
    head, *rest = _WHERE_AFTER.split(target.strip(), maxsplit=1)
    where = " " + rest[0] if rest else ""
    read = noun_phrase(head)
    if read is None or read[0] is None or not 2 <= read[0] <= MAX_COUNTED_ADDS:
        return None
    one = re.sub(r"^(?:more|other|extra|new|further)\s+", "", read[2])
    return read[0], ("an " if one[:1] in "aeiou" else "a ") + one + where


def _each(op: str, target: str, ref: str | None) -> tuple[int, str]:
    """(how many times, the target of each): an add of several said with an exact count is that
    many adds of one (:func:`_counted`); any other op is itself, once."""
    counted = _counted(target) if op == "add" and not ref else None
    return counted or (1, target)


def split_counted_adds(plan: EditPlan) -> EditPlan:
    """``plan`` with each add of several said with an exact count ("add two green triangles")
    made an add of each, as the grammar plans it; an add that owns a blob (as many blobs as
    ops) has it spread into one blob each. A plan whose blobs do not pair with its ops keeps
    them; its counted adds are split only when it has none."""
    from anypix.agent.layout import spread_blob

    paired = len(plan.blobs) == len(plan.ops)
    if plan.blobs and not paired:
        return plan
    ops: list[Op] = []
    blobs = []
    for index, op in enumerate(plan.ops):
        count, one = _each(op.op, op.target or "", op.ref)
        ops.extend([op.model_copy(update={"target": one})] * count)
        if paired:
            blob = plan.blobs[index]
            blob = blob.model_copy(update={"description": one}) if count > 1 else blob
            blobs.extend(spread_blob(blob, count))
    if len(ops) == len(plan.ops):
        return plan
    return plan.model_copy(update={"ops": ops, "blobs": blobs})


def _edit_gen(ops: list[Op]) -> str:
    """InstructAny2Pix's [gen] for an edit: a short description of what the result shows."""
    # Removals are left out: a text encoder reads "without the cat" as "cat" and paints it back.
    phrase = {
        "add": "with {t}",
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
        if (target or op.op == "variation") and op.op in phrase:
            parts.append(phrase[op.op].format(t=target))
    return "; ".join(parts)[:1000] or "the same scene with nothing in the way"


def normalise(text: str) -> str:
    # "black & white", "remove the cup & saucer": an ampersand between words is "and"
    text = " ".join(text.replace("\u2019", "'").replace(" & ", " and ").split())
    return _strip_lead(text.rstrip(" .!?")).rstrip(" ,")


def parse_instruction(
    text: str, assets: Mapping[str, str], attached: Collection[str] | None = None
) -> EditPlan:
    """Read an instruction into an :class:`EditPlan`.

    ``attached`` names the assets attached with this instruction (None: all but ``last``); an
    edit that names no image edits one of them, else the session's current image ``last``.
    Raises :class:`UnknownAssetError` for a ``[name]`` that is not in ``assets``,
    :class:`EmptyInstructionError` for blank text, :class:`ClarificationNeeded` when it is
    ambiguous (the question to ask) and :class:`NotCanonicalError` for anything the fast path
    cannot read with confidence (the planner then asks the LLM).
    """
    if not text.strip():
        raise EmptyInstructionError()
    check_references(text, assets)
    text, answer = take_answer(text, assets)
    text = normalise(text)
    text = re.sub(r",?\s+(?:thanks|thank you|thx|ty)$", "", text, flags=re.IGNORECASE)
    text = re.sub(r",?\s*\b(?:please|pls|plz)\b", "", text, flags=re.IGNORECASE).strip(" ,")
    text = _drop_also(text)
    if not text:
        raise EmptyInstructionError()
    text = _resolve_remark(text, assets)
    text = _point_at_attachment(text, assets, attached)
    text = _name_attachments(text, assets, attached)
    draft = Draft(assets, answer=answer.text)
    for clause in split_clauses(text, assets):
        read_clause(rewrite(clause, assets), draft)
    if answer.text and draft.answer and _answer_names_object(draft, answer.text):
        draft.answer = ""  # "which ring?" answered "the red ring on the left": that ring
    if answer.text and draft.answer:  # the reply was not the object a vague word stood for
        joiner = " and " if verb_of(rewrite(answer.text, assets)) else " "
        return parse_instruction(text + joiner + answer.text, assets, attached)
    try:
        return _build(draft, attached, answer)
    except ValidationError as exc:  # e.g. "add" with nothing to add: no op, or an empty target
        raise NotCanonicalError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
