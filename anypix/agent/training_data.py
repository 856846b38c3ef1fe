"""Instruction/plan pairs for teaching a small LLM the plan language (InstructAny2Pix fine-tunes
its LLM on such pairs; anypix's SmolLM2-135M was never taught it).

    pairs = generate_pairs(2000, seed=0)
    python -m anypix.agent.training_data --count 20000 --seed 0 --out planner-train.jsonl

A pair is what the planner's LLM sees and what it should answer: the assets (``{name: image |
audio}``; ``last`` is a session's current image), this turn's attachments with their file names,
the instruction, and the plan in the planner's JSON schema (``base``, ``subs``, ``style_ref``,
``ops``, ``gen``) -- the format of ``prompts/plan_examples.jsonl``. Layout pairs carry BlobGEN's CSS
for a description instead (``prompts/layout_examples.jsonl``'s format), from the layout solver.

The templates cover every op; references by asset name, by file name (``[IMG_0042.jpg]``) and by
plain words ("the beach photo", "it", "the picture", "the song"), with this turn's attachment as
the base even inside a session; audio as a subject and as a style; style references; compound
instructions; layouts with counts (digits, words, "a pair of") and relations; everyday phrasings
("X should be gone", "let the man wear Y", "what if the car was blue?", "swap out X for [ref]",
"scoot the lamp over", "same vibe as [ref]"). The vocabularies (:mod:`training_vocab`) are wide
(about 230 objects, 80 scene names, 35 sounds, 30 styles) so that no noun is new at test time
by accident. Noise is added on top: typos anywhere, casing (mixed case too, never inside
[names]), politeness, trailing punctuation.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from anypix.agent.layout import scene_blobs
from anypix.agent.phrases import verb_of
from anypix.agent.training_vocab import (
    COLOURS,
    DESCRIPTIONS,
    DIRECTIONS,
    HOLDABLES,
    LOOKS,
    MOVE_VERBS,
    NUMBERS,
    OBJECTS,
    PEOPLE,
    PHOTO_NAMES,
    PLACES,
    PRONOUNS,
    RELATIONS,
    SCENES,
    SHAPES,
    SOUND_WORDS,
    SOUNDS,
    STYLES,
    WEARABLES,
)
from anypix.plan import Blob

T = TypeVar("T")
Clause = tuple[str, dict[str, Any], list[str], "str | None"]  # text, op, subs, style reference


@dataclass
class Pair:
    """One training example: the question the planner's LLM gets and the plan it should give."""

    assets: dict[str, str]
    instruction: str
    plan: dict[str, Any] | None = None  # the planner's JSON (task "plan")
    css: str | None = None  # BlobGEN CSS (task "layout")
    files: dict[str, str] = field(default_factory=dict)  # this turn's attachments -> file names

    def record(self) -> dict[str, Any]:
        task = "plan" if self.plan is not None else "layout"
        out: dict[str, Any] = {"task": task, "assets": self.assets, "files": self.files}
        if task == "plan":
            out.update(instruction=self.instruction, plan=self.plan)
        else:
            out.update(prompt=self.instruction, css=self.css)
        return out


def _op(kind: str, target: str = "", ref: str | None = None) -> dict[str, Any]:
    return {"op": kind, "target": target, "ref": ref}


def _plan(base: str | None, ops: list[dict[str, Any]], gen: str, subs: list[str] | None = None,
          style: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"base": base, "subs": subs or [], "style_ref": style, "ops": ops, "gen": gen}


class _Writer:
    """Draws one pair at a time from the templates below."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items: Sequence[T]) -> T:
        return self.rng.choice(items)

    def the(self, noun: str) -> str:
        return self.pick([f"the {noun}", f"the {noun}", f"that {noun}"])

    def colour(self, noun: str) -> str:
        """``noun`` with a colour in front, a third of the time."""
        return f"{self.pick(COLOURS)} {noun}" if self.rng.random() < 0.33 else noun

    def name(self, pool: list[str], assets: dict[str, str]) -> str:
        """A fresh asset name: a word from ``pool``, now and then a camera-style one."""
        name = self.pick(pool)
        if self.rng.random() < 0.1:
            prefix = self.pick(["img", "pic", "photo", "dsc", "scan"])
            name = f"{prefix}_{self.rng.randint(1, 9999)}"
        while name in assets:
            name += "2"
        return name

    def file_name(self, name: str) -> str:
        return self.pick(PHOTO_NAMES).format(n=self.rng.randint(1000, 9999), name=name)

    # -- how the image edited is named ------------------------------------------------------------
    def base_ref(self, assets: dict[str, str], files: dict[str, str]) -> tuple[str, str]:
        """(the asset edited, the words that name it): its [name] (attached this turn or earlier),
        its [file name], "it"/"the photo" with one image attached (also inside a session, where
        this turn's attachment wins over the current image), or "it" for a session's image."""
        form = self.rng.random()
        if form < 0.15:  # a session, nothing attached: the current image
            assets["last"] = "image"
            return "last", self.pick(["it", "this", "the picture", "the image", "[last]"])
        if form < 0.25:  # a session and one image attached this turn: the attachment
            assets["last"] = "image"
        name = self.name(SCENES, assets)
        assets[name] = "image"
        files[name] = self.file_name(name)
        if form < 0.55:
            return name, self.pick(["it", "this", "the photo", "the picture", f"the {name} photo",
                                    "the image", "this one", "my photo"])  # fmt: skip
        if form < 0.7:
            return name, f"[{files[name]}]"
        if self.rng.random() < 0.5:  # attached in an earlier turn: no file this turn
            del files[name]
        return name, f"[{name}]"

    def sub_ref(self, assets: dict[str, str], files: dict[str, str], audio: bool) -> str:
        name = self.name(SOUNDS if audio else OBJECTS, assets)
        assets[name] = "audio" if audio else "image"
        files[name] = f"{name}.{'wav' if audio else 'png'}"
        return name

    def style_ref(self, assets: dict[str, str], files: dict[str, str], audio: bool) -> str:
        name = self.name(SOUNDS if audio else STYLES, assets)
        assets[name] = "audio" if audio else "image"
        files[name] = f"{name}.{self.pick(['wav', 'mp3'] if audio else ['jpg', 'png'])}"
        return name

    # -- one clause per op: (text, op, subs, style) -----------------------------------------------
    def clause(self, kind: str, where: str, assets: dict[str, str], files: dict[str, str]
               ) -> Clause:  # fmt: skip
        """One clause of ``kind`` about the image named by ``where`` (subjects and style
        references it needs join ``assets`` and ``files``)."""
        obj = self.pick(OBJECTS)
        in_base = self.pick([f" in {where}", f" from {where}", ""]) if where.startswith("[") else ""
        writers: dict[str, Callable[[], Clause]] = {
            "add": lambda: self._add(obj, where, in_base, assets, files),
            "remove": lambda: self._remove(obj, in_base),
            "replace": lambda: self._replace(obj, assets, files),
            "recolor": lambda: self._recolor(obj, where),
            "move": lambda: self._move(obj),
            "variation": lambda: self._variation(where),
            "restyle": lambda: self._restyle(where, assets, files),
        }
        return writers[kind]()

    def _add(self, obj: str, where: str, in_base: str, assets: dict[str, str],
             files: dict[str, str]) -> Clause:  # fmt: skip
        form = self.rng.random()
        if form < 0.3:  # an attached subject: an image or a sound
            sub = self.sub_ref(assets, files, audio=self.rng.random() < 0.3)
            place = self.pick(PLACES)
            text = self.pick([f"add [{sub}] to {where}", f"put [{sub}] in {where}", f"add [{sub}]",
                              f"could you add [{sub}] {place}", f"stick [{sub}] {place}",
                              f"drop [{sub}] into {where}", f"I want [{sub}] {place}",
                              f"include [{sub}]", f"[{sub}] should be {place}",
                              f"bring [{sub}] into {where}", f"[{sub}] {place} of {where}",
                              f"[{sub}] next to the {obj} in {where}",
                              f"can [{sub}] sit on the {obj} in {where}?",
                              f"{where} with [{sub}] {place}"])  # fmt: skip
            return text, _op("add", sub, sub), [sub], None
        if form < 0.55:  # something worn or held: "let the man wear sunglasses"
            person = self.pick(PEOPLE)
            worn, held = self.colour(self.pick(WEARABLES)), self.colour(self.pick(HOLDABLES))
            pronoun = PRONOUNS.get(person, "it")
            text, thing = self.pick([
                (f"let {person} wear {_a(worn)}", worn), (f"have {person} wear {_a(worn)}", worn),
                (f"{person} should wear {_a(worn)}", worn), (f"put {_a(worn)} on {pronoun}", worn),
                (f"let {person} hold {_a(held)}", held), (f"{person} should be holding {_a(held)}", held),
                (f"give {person} {_a(held)}", held), (f"can {person} have {_a(held)}?", held),
                (f"{person} needs {_a(worn)}", worn), (f"make {person} hold {_a(held)}", held)])  # fmt: skip
            return text, _op("add", _a(thing)), [], None
        thing = self.colour(obj)
        place = self.pick(PLACES)
        text = self.pick([f"add {_a(thing)}{in_base}", f"put {_a(thing)} {place}",
                          f"let there be {_a(thing)}", f"how about {_a(thing)}?",
                          f"there should be {_a(thing)} {place}", f"throw in {_a(thing)}",
                          f"can we get {_a(thing)} {place}?", f"I'd like {_a(thing)} {place}",
                          f"why not add {_a(thing)}?", f"draw {_a(thing)} {place}",
                          f"{_a(thing)} {place} please"])  # fmt: skip
        return text, _op("add", _a(thing)), [], None

    def _remove(self, obj: str, in_base: str) -> Clause:
        the = self.the(obj)
        text = self.pick([f"remove {the}{in_base}", f"get rid of {the}", f"{the} should be gone",
                          f"take {the} away", f"erase {the}", f"no more {_plural(obj)}",
                          f"there shouldn't be a {obj}", f"delete {the}", f"lose {the}",
                          f"I don't want {the}", f"without {the} please", f"{the} has to go",
                          f"can you take {the} out?", f"take {the} off", f"clear away {the}",
                          f"wipe out {the}", f"hide {the}", f"{the} needs to go",
                          f"make {the} disappear", f"cut {the} out"])  # fmt: skip
        return text, _op("remove", f"the {obj}"), [], None

    def _replace(self, obj: str, assets: dict[str, str], files: dict[str, str]) -> Clause:
        if self.rng.random() < 0.25:  # the new thing is an attached picture
            sub = self.sub_ref(assets, files, audio=False)
            text = self.pick([f"replace the {obj} with [{sub}]", f"swap out the {obj} for [{sub}]",
                              f"put [{sub}] where the {obj} is", f"swap the {obj} for [{sub}]",
                              f"use [{sub}] instead of the {obj}"])  # fmt: skip
            return text, _op("replace", f"the {obj}", sub), [sub], None
        new = self.colour(self.pick([o for o in OBJECTS if o != obj]))
        text = self.pick([f"replace {self.the(obj)} with {_a(new)}", f"swap the {obj} for {_a(new)}",
                          f"the {obj} should be {_a(new)}", f"turn the {obj} into {_a(new)}",
                          f"swap out the {obj} for {_a(new)}", f"change the {obj} to {_a(new)}",
                          f"instead of the {obj}, {_a(new)}", f"make the {obj} {_a(new)}",
                          f"what if the {obj} was {_a(new)}?", f"exchange the {obj} for {_a(new)}",
                          f"I'd rather have {_a(new)} than the {obj}"])  # fmt: skip
        return text, _op("replace", f"the {obj} with {_a(new)}"), [], None

    def _recolor(self, obj: str, where: str) -> Clause:
        colour = self.pick(COLOURS)
        if self.rng.random() < 0.06:  # a whole picture given its colours back
            text = self.pick([f"colourise {where}", f"colorize {where}", f"add colour to {where}"])
            return text, _op("recolor", "the picture in colour"), [], None
        text = self.pick([f"make {self.the(obj)} {colour}", f"paint the {obj} {colour}",
                          f"what if the {obj} was {colour}?", f"the {obj} should be {colour}",
                          f"change the colour of the {obj} to {colour}", f"turn the {obj} {colour}",
                          f"could the {obj} be {colour}?", f"let the {obj} be {colour}",
                          f"recolour the {obj} {colour}", f"dye the {obj} {colour}",
                          f"I want the {obj} in {colour}", f"why not make the {obj} {colour}?",
                          f"can you make the {obj} {colour}?", f"a {colour} {obj} instead"])  # fmt: skip
        return text, _op("recolor", f"the {obj} {colour}"), [], None

    def _move(self, obj: str) -> Clause:
        verb = self.pick(MOVE_VERBS)
        if self.rng.random() < 0.6:
            direction = self.pick(DIRECTIONS)
            text = self.pick([f"{verb} {self.the(obj)} {direction}", f"{verb} the {obj} {direction}",
                              f"can you {verb} the {obj} {direction}?",
                              f"could the {obj} be further {direction.removeprefix('to the ')}?"])  # fmt: skip
        else:
            direction = self.pick(PLACES)
            text = self.pick([f"the {obj} should be {direction}", f"{verb} the {obj} {direction}",
                              f"the {obj} belongs {direction}", f"the {obj} goes {direction}",
                              f"the {obj} would look better {direction}",
                              f"I'd rather have the {obj} {direction}",
                              f"what about the {obj} {direction}?"])  # fmt: skip
        return text, _op("move", f"the {obj} {direction}"), [], None

    def _variation(self, where: str) -> Clause:
        target = where if where.startswith("[") else "it"
        text = self.pick([f"make a variation of {target}", "try another version of this",
                          f"give me another version of {target}", f"remix {target}",
                          "one more like that", "again but different", f"another take on {target}",
                          "reroll", "same thing, different details", "show me a different version",
                          "do it again", "more like this", f"a new version of {target} please",
                          f"shuffle {target} a bit", f"vary {target}", "another one like this"])  # fmt: skip
        return text, _op("variation"), [], None

    def _restyle(self, where: str, assets: dict[str, str], files: dict[str, str]) -> Clause:
        """In words ("make it snowy"), after an image ("like [monet]") or a sound, named in
        brackets or, when it is the only one of its kind, in words ("the song")."""
        if self.rng.random() < 0.4:
            look = self.pick(LOOKS)
            text = self.pick([f"make it {look}", f"make {where} {look}", f"could you make it {look}?",
                              f"I'd like {where} {look}", f"can {where} {look}?" if look.startswith(
                                  ("look", "feel")) else f"make it more {look}"])  # fmt: skip
            return text, _op("restyle", look.removeprefix("look ").removeprefix("feel ")), [], None
        audio = self.rng.random() < 0.35
        style = self.style_ref(assets, files, audio)
        ref = f"[{style}]"
        if self.rng.random() < 0.25 and list(assets.values()).count(assets[style]) == 1:
            ref = self.pick(SOUND_WORDS[assets[style]])  # the only sound: "the song"
        text = self.pick([f"make it feel like {ref}", f"make it sound like {ref}",
                          f"match the mood of {ref}", f"make {where} feel the way {ref} sounds",
                          f"give it the mood of {ref}", f"let {ref} set the mood",
                          f"make {where} feel like {ref}"] if audio else
                         [f"make it feel like {ref}", f"paint it in the style of {ref}",
                          f"make it look like {ref}", f"restyle it like {ref}",
                          f"same vibe as {ref}", f"same colours as {ref}",
                          f"match the style of {ref}", f"do {where} the way {ref} would",
                          f"give it the feel of {ref}", f"use {ref} as the style",
                          f"make {where} look like {ref}", f"{where} but painted like {ref}",
                          f"style it after {ref}"])  # fmt: skip
        return text, _op("restyle", "", style), [], style

    # -- whole pairs --------------------------------------------------------------------------------
    def edit_pair(self, clauses: int) -> Pair:
        assets: dict[str, str] = {}
        files: dict[str, str] = {}
        base, where = self.base_ref(assets, files)
        kinds = self.rng.sample(["add", "remove", "replace", "recolor", "move", "restyle"],
                                clauses) if clauses > 1 else [self.pick(
                                    ["add", "remove", "replace", "recolor", "move", "restyle",
                                     "variation"])]  # fmt: skip
        texts, ops, subs, style = [], [], [], None
        for kind in kinds:  # each kind once: at most one subject and one style reference
            text, op, new_subs, new_style = self.clause(kind, where, assets, files)
            texts.append(text)
            ops.append(op)
            subs += new_subs
            style = style or new_style
        if where.startswith("[") and not any("[" in t for t in texts):
            texts[0] = f"{texts[0].rstrip('?')} in {where}"
        instruction = self.join(texts)
        gen = "; ".join(op["target"] for op in ops if op["target"] and op["op"] != "remove")
        return Pair(assets, instruction, _plan(base, ops, gen or "the same scene", subs, style),
                    files=files)  # fmt: skip

    def scene(self, most: int = 24) -> tuple[str, str]:
        """A description with counts and relations (at most ``most`` objects), and its BlobGEN
        CSS from the solver, in whole pixels as the planner's layout schema asks."""
        nouns = self.rng.sample(SHAPES + OBJECTS[:12], 2)
        counts = [1, 1]
        while True:
            counts = [self.rng.choice([1, 1, 1, 2, 3, 4, 5, 6, 12]) for _ in nouns]
            if sum(counts) <= most:
                break
        phrases = []
        for noun, count in zip(nouns, counts, strict=True):
            colour = self.pick(["", "", f"{self.pick(COLOURS)} "])
            if count == 1:
                phrases.append(f"{'an' if (colour or noun)[0] in 'aeiou' else 'a'} {colour}{noun}")
            else:
                phrases.append(f"{self.pick(NUMBERS[count])} {colour}{_plural(noun)}")
        form = self.rng.random()
        if form < 0.5:
            relation = self.pick(list(RELATIONS))
            text = f"{phrases[0]} {self.pick(RELATIONS[relation])} {phrases[1]}"
        elif form < 0.75:
            text = f"{phrases[0]} on the left and {phrases[1]} on the right"
        else:
            text = f"{phrases[0]} and {phrases[1]}"
        css = "\n".join(_css(blob) for blob in scene_blobs(text))
        return text, css

    def generate_pair(self) -> Pair:
        """A new picture: a counted layout or a described scene, now and then after a style
        image or a sound, and now and then inside a session (asked for as a new picture)."""
        assets: dict[str, str] = {}
        files: dict[str, str] = {}
        text = self.scene()[0] if self.rng.random() < 0.6 else self.pick(DESCRIPTIONS)
        gen, style = text, None
        if self.rng.random() < 0.4:
            audio = self.rng.random() < 0.4
            style = self.style_ref(assets, files, audio)
            ref = f"[{style}]"
            text += self.pick([f" that sounds like {ref}", f" that feels like {ref}",
                               f" with the mood of {ref}", f", feeling like {ref}"] if audio else
                              [f" in the style of {ref}", f", like {ref}", f" painted like {ref}",
                               f" the way {ref} would paint it", f" with the look of {ref}",
                               f" in {ref}'s style"])  # fmt: skip
        prefixes = ["", "draw ", "I need a picture of ", "can you draw ", "generate ", "make me ",
                    "show me ", "paint ", "create ", "I'd like ", "picture "]  # fmt: skip
        if self.rng.random() < 0.1:  # inside a session: a new picture, not an edit of it
            assets["last"] = "image"
            prefixes = ["draw a new picture of ", "start over with ", "new image: ",
                        "forget that, draw "]  # fmt: skip
        instruction = self.pick(prefixes) + text
        return Pair(assets, instruction, _plan(None, [_op("generate")], gen, style=style),
                    files=files)  # fmt: skip

    def layout_pair(self) -> Pair:
        text, css = self.scene(most=8)  # the layout schema holds eight rules
        return Pair({}, text, css=css)

    def join(self, texts: list[str]) -> str:
        if len(texts) == 1:
            return texts[0]
        joiner = self.pick([", ", " and ", ", then ", ". "])
        return joiner.join(t.rstrip("?") for t in texts)

    # -- noise -------------------------------------------------------------------------------------
    def noisy(self, text: str) -> str:
        """Politeness, casing, typos and punctuation as people type them."""
        r = self.rng.random
        if r() < 0.2:
            text = _typo(text, self.rng)
        if r() < 0.15 and verb_of(text) is not None:
            text = self.pick(["please ", "could you ", "can you ", "now ", "ok ", "hey, ",
                              "nice, now ", "actually, ", "hmm, ", "ok so ", "great. now "]) + text  # fmt: skip
        if r() < 0.15:
            case = self.pick(["upper", "title", "capitalize", "mixed", "lower"])
            text = _outside_names(text, lambda part: _cased(part, case, self.rng))
        if r() < 0.15:
            text = text.rstrip("?.!") + self.pick([".", "!", " please", "?", " thanks", " pls"])
        return text


def _a(noun: str) -> str:
    """``noun`` with its article: "an owl", "a red hat", "sunglasses"."""
    if noun.split()[-1] in {"sunglasses", "glasses", "flowers", "gloves", "boots"}:
        return noun
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _css(blob: Blob, side: int = 512) -> str:
    """One BlobGEN rule in whole pixels on a ``side``-pixel canvas."""
    return (
        f"{blob.label} {{major-radius: {round(blob.a * side)}px; "
        f"minor-radius: {round(blob.b * side)}px; cx: {round(blob.cx * side)}px; "
        f"cy: {round(blob.cy * side)}px; angle: {round(blob.angle)}}}"
    )


def _typo(text: str, rng: random.Random) -> str:
    """One slip in a word outside the [names]: two letters swapped, one doubled or one dropped."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not spots:
        return text
    k = rng.choice(spots[:1] * 2 + spots)  # the verb most often
    word = words[k]
    i = rng.randrange(1, len(word) - 2)
    words[k] = rng.choice([word[:i] + word[i + 1] + word[i] + word[i + 2 :],
                           word[:i] + word[i] + word[i:], word[:i] + word[i + 1 :]])  # fmt: skip
    return " ".join(words)


def _cased(text: str, case: str, rng: random.Random) -> str:
    if case == "mixed":  # "mAkE tHe CaR bLuE"
        return "".join(c.upper() if (i + rng.randint(0, 1)) % 2 else c.lower()
                       for i, c in enumerate(text))  # fmt: skip
    return str(getattr(text, case)())


def _outside_names(text: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the text between [names]: names must still match the assets."""
    parts = re.split(r"(\[[^\]]*\])", text)
    return "".join(p if p.startswith("[") else change(p) for p in parts)


def generate_pairs(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` records (see the module docstring): about 62% edits (a third of them
    compounds), 28% new pictures, 10% layouts."""
    writer = _Writer(random.Random(seed))
    makers: list[tuple[float, Callable[[], Pair]]] = [
        (0.42, lambda: writer.edit_pair(1)),
        (0.2, lambda: writer.edit_pair(writer.rng.choice([2, 3]))),
        (0.28, writer.generate_pair),
        (0.1, writer.layout_pair),
    ]
    records = []
    shares, kinds = zip(*makers, strict=True)
    for _ in range(count):
        make = writer.rng.choices(kinds, weights=shares)[0]
        pair = make()
        if pair.plan is not None:  # layout prompts stay descriptions
            pair.instruction = writer.noisy(pair.instruction)
        records.append(pair.record())
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description="write instruction/plan training pairs")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("planner-train.jsonl"))
    args = parser.parse_args()
    with args.out.open("w") as handle:
        for record in generate_pairs(args.count, args.seed):
            handle.write(json.dumps(record) + "\n")
    print(f"{args.count} pairs -> {args.out}")


if __name__ == "__main__":
    main()
