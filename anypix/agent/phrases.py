"""Phrases the fast-path grammar shares between its clause readers: the word lists, asset
references, objects ("the jacket in [jacket]"), colours, canvas regions and style phrases."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from anypix.errors import ClarificationNeeded, NotCanonicalError
from anypix.lexicon import color_split as color_split  # used by the clause readers
from anypix.lexicon import lexicon

Modality = Literal["image", "audio"]
REF = r"\[([A-Za-z0-9_][A-Za-z0-9_.\-]{0,63})\]"
WHOLE = "<whole>"  # the base, named by "it", "everything", "the image"...


def words(key: str) -> list[str]:
    return sorted(lexicon()[key], key=len, reverse=True)  # longest first: "get rid of" before "get"


def alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in words)


def verb_of(clause: str) -> tuple[str, str, str] | None:
    """(kind, verb, rest) when the clause starts with a known verb."""
    lowered = clause.lower()
    for kind, verbs in lexicon()["verbs"].items():
        for verb in sorted(verbs, key=len, reverse=True):
            if re.match(rf"{re.escape(verb)}\b", lowered):
                return kind, verb, clause[len(verb) :].strip()
    return None


# -- the draft plan ---------------------------------------------------------------------------------


@dataclass
class Draft:
    assets: Mapping[str, str]
    bases: list[str] = field(default_factory=list)
    subs: list[str] = field(default_factory=list)
    style_refs: list[str] = field(default_factory=list)
    ops: list[dict[str, Any]] = field(default_factory=list)
    gen_text: list[str] = field(default_factory=list)
    generating: bool = False
    answer: str = ""  # the reply to "what should I remove?", until a vague word takes it

    def op(self, kind: str, target: str = "", ref: str | None = None, place: str = "") -> None:
        self.ops.append({"op": kind, "target": clean(target), "ref": ref, "place": place})
        if ref is not None and kind != "restyle" and ref not in self.subs:
            self.subs.append(ref)

    def base(self, name: str | None) -> None:
        if name is not None:
            self.bases.append(name)

    def style(self, name: str) -> None:
        self.style_refs.append(name)


def clean(text: str) -> str:
    """Refs become plain names in free text; stray punctuation and articles at the ends go."""
    text = re.sub(REF, r"\1", text)
    text = re.sub(r"\s+", " ", text).strip(" ,.;:!?")
    return text


def ref_names(text: str) -> list[str]:
    return re.findall(REF, text)


# -- phrases shared by the clause readers -----------------------------------------------------------


def _style_pattern() -> re.Pattern[str]:
    nouns = alternation(words("style_nouns"))
    return re.compile(
        rf",?\s*(?:(?:all|everything)\s+)?(?:"
        rf"(?:in|with|using)\s+(?:the\s+)?(?:same\s+)?(?:{nouns})\s+(?:of|from|as)\s+{REF}|"
        rf"(?:in|with)\s+{REF}(?:'s\s+(?:{nouns})|\s+style)|"
        rf"like\s+(?:the\s+)?(?:sound|sounds|noise|{nouns})\s+of\s+{REF}|"
        rf"(?:the\s+)?same\s+(?:{nouns})\s+as\s+{REF}|"
        rf"(?:styled|inspired|influenced)\s+(?:after|by)\s+{REF}|"
        rf"(?:look|looks|looking|feel|feels|feeling|sound|sounds|seem)\s+like\s+{REF}|"
        rf"(?:just\s+)?like\s+{REF}|(?:a la|à la)\s+{REF}|match(?:es|ing)?\s+{REF})",
        re.IGNORECASE,
    )


def take_style(clause: str, draft: Draft) -> tuple[str, str | None]:
    """Remove a style phrase naming an asset; returns (rest, style asset)."""
    match = _style_pattern().search(clause)
    if match is None:
        return clause, None
    name = next(g for g in match.groups() if g)
    draft.style(name)
    return (clause[: match.start()] + " " + clause[match.end() :]).strip(" ,"), name


_WHOLE_PHRASE = re.compile(
    r"(?:this|that|the|my|our|your)\s+(?:[a-z]+\s+){0,2}(?:image|picture|photo|pic|shot|"
    r"snapshot|scan)",
    re.IGNORECASE,
)
# Comparatives of a look ("the sky even darker", "a bit brighter"): a quality, not a thing.
COMPARATIVES = (
    "darker|brighter|lighter|warmer|cooler|colder|hotter|softer|sharper|happier|sadder|older|"
    "newer|cleaner|dirtier|richer|deeper|paler|calmer|moodier|gloomier|spookier|creepier|"
    "scarier|livelier|busier|emptier|prettier|nicer|snowier|sunnier|rainier|foggier|cloudier|"
    "stormier|duller|bolder|fresher|dreamier|grittier|cozier|cosier|clearer|"
    "smoother|wetter|drier|lusher|mistier|hazier|shinier|greyer|grayer|crisper"
)
# Looks of a whole picture said bare ("golden hour", "watercolour", "at night").
LOOKS = "|".join(re.escape(w) for w in sorted(lexicon()["looks"], key=len, reverse=True))
# Words of degree before a comparative ("even darker", "a bit more colourful").
DEGREES = "even|much|a bit|a little|a lot|slightly|way|far|somewhat|a tad|so|really|very"
# Definite words before an object the picture already has ("the sky", "his shirt").
DEFINITE = "the|this|that|these|those|his|her|its|their|my|our|your"

# Words that stand for an object without saying which ("remove that"): the planner asks.
VAGUE = re.compile(
    r"(?:it|that|this|them|those|these|this one|that one|something|the thing|stuff)", re.I
)


def is_whole(text: str) -> bool:
    """ "it", "everything", "the picture", "this old photo": the image edited, as a whole."""
    if ref_names(text):
        return False
    text = clean(text).lower()
    return text in lexicon()["whole_image"] or bool(_WHOLE_PHRASE.fullmatch(text))


def vague_target(draft: Draft, target: str, verb: str) -> str:
    """``target``, or when it is a vague word ("that"), the person's earlier answer; with no
    answer, raise the question."""
    if not VAGUE.fullmatch(clean(target)):
        return target
    if draft.answer:
        target, draft.answer = draft.answer, ""
        return target
    raise ClarificationNeeded(f"What should I {verb}?")


def object_phrase(phrase: str) -> tuple[str, str | None]:
    """Split "the jacket in [jacket]" into (target, base): the ref names the image edited."""
    phrase = phrase.strip(" ,")
    if is_whole(phrase):
        return "", WHOLE
    refs = ref_names(phrase)
    whole_tail = re.fullmatch(r"(.+?)\s+(?:in|of|from|on)\s+(.+)", phrase, re.IGNORECASE)
    if not refs and whole_tail and is_whole(whole_tail.group(2)):
        return whole_tail.group(1), WHOLE  # "the man in the picture"
    if not refs:
        return phrase, None
    if len(refs) > 1:
        raise NotCanonicalError(f"{phrase!r} names several images")
    if re.fullmatch(REF, phrase):
        return "", refs[0]
    match = re.fullmatch(
        rf"(.*?)\s*\b(?:in|of|from|on|inside|within|at)\s+(?:the\s+)?(?:image\s+|photo\s+)?{REF}",
        phrase,
        re.IGNORECASE,
    )
    if match:
        return match.group(1), match.group(2)
    match = re.fullmatch(rf"{REF}'s\s+(.+)", phrase)
    if match:
        return match.group(2), match.group(1)
    raise NotCanonicalError(f"cannot tell which image {phrase!r} edits")


def items(text: str) -> list[str]:
    """A list of objects: "the pen, the cup and the notebook"."""
    items = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*", text.strip())
    return [item for item in items if item.strip()]


def _region_pattern() -> re.Pattern[str]:
    from anypix.agent.scene import REGION_WORDS

    return re.compile(
        rf"\s*\b(?:(?:on|to|at|in|into|towards?)\s+(?:the\s+)?)?(?:far\s+|very\s+)?"
        rf"(?:{alternation(sorted(REGION_WORDS, key=len, reverse=True))})"
        rf"(?:\s+(?:side|corner|edge|half|part|third))?"
        rf"(?:\s+of\s+(?:the\s+)?(?:image|picture|photo|frame|scene|canvas|it))?\s*$",
        re.IGNORECASE,
    )


def take_region(text: str) -> tuple[str, str]:
    """Split a trailing canvas-region phrase ("on the left", "in the top right corner") off."""
    match = _region_pattern().search(text)
    if match is None or not match.group(0).strip():
        return text, ""
    return text[: match.start()].strip(" ,"), match.group(0).strip()
