"""The clause templates of the planner's training pairs (:mod:`anypix.agent.training_data`):
one writer per op, each giving the instruction text, the op in the planner's JSON, the subjects
and the style reference it brings, and how the edited image is named ("it", "[name]", "[file
name]", the session's current image)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from anypix.agent.training_vocab import (
    COLOURS,
    DIRECTIONS,
    HOLDABLES,
    LOOKS,
    MOVE_VERBS,
    OBJECTS,
    PEOPLE,
    PHOTO_NAMES,
    PLACES,
    PRONOUNS,
    SCENES,
    SOUND_WORDS,
    SOUNDS,
    STYLES,
    WEARABLES,
)

T = TypeVar("T")
Clause = tuple[str, dict[str, Any], list[str], "str | None"]  # text, op, subs, style reference


def op_json(kind: str, target: str = "", ref: str | None = None) -> dict[str, Any]:
    return {"op": kind, "target": target, "ref": ref}


def plan_json(base: str | None, ops: list[dict[str, Any]], gen: str, subs: list[str] | None = None,
          style: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"base": base, "subs": subs or [], "style_ref": style, "ops": ops, "gen": gen}


class ClauseWriter:
    """Draws clauses (and the names of the images they edit) from the templates below."""

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
            return text, op_json("add", sub, sub), [sub], None
        if form < 0.55:  # something worn or held: "let the man wear sunglasses"
            person = self.pick(PEOPLE)
            worn, held = self.colour(self.pick(WEARABLES)), self.colour(self.pick(HOLDABLES))
            pronoun = PRONOUNS.get(person, "it")
            text, thing = self.pick([
                (f"let {person} wear {an(worn)}", worn), (f"have {person} wear {an(worn)}", worn),
                (f"{person} should wear {an(worn)}", worn), (f"put {an(worn)} on {pronoun}", worn),
                (f"let {person} hold {an(held)}", held), (f"{person} should be holding {an(held)}", held),
                (f"give {person} {an(held)}", held), (f"can {person} have {an(held)}?", held),
                (f"{person} needs {an(worn)}", worn), (f"make {person} hold {an(held)}", held)])  # fmt: skip
            return text, op_json("add", an(thing)), [], None
        thing = self.colour(obj)
        place = self.pick(PLACES)
        text = self.pick([f"add {an(thing)}{in_base}", f"put {an(thing)} {place}",
                          f"let there be {an(thing)}", f"how about {an(thing)}?",
                          f"there should be {an(thing)} {place}", f"throw in {an(thing)}",
                          f"can we get {an(thing)} {place}?", f"I'd like {an(thing)} {place}",
                          f"why not add {an(thing)}?", f"draw {an(thing)} {place}",
                          f"{an(thing)} {place} please"])  # fmt: skip
        return text, op_json("add", an(thing)), [], None

    def _remove(self, obj: str, in_base: str) -> Clause:
        the = self.the(obj)
        text = self.pick([f"remove {the}{in_base}", f"get rid of {the}", f"{the} should be gone",
                          f"take {the} away", f"erase {the}", f"no more {plural(obj)}",
                          f"there shouldn't be a {obj}", f"delete {the}", f"lose {the}",
                          f"I don't want {the}", f"without {the} please", f"{the} has to go",
                          f"can you take {the} out?", f"take {the} off", f"clear away {the}",
                          f"wipe out {the}", f"hide {the}", f"{the} needs to go",
                          f"make {the} disappear", f"cut {the} out"])  # fmt: skip
        return text, op_json("remove", f"the {obj}"), [], None

    def _replace(self, obj: str, assets: dict[str, str], files: dict[str, str]) -> Clause:
        if self.rng.random() < 0.25:  # the new thing is an attached picture
            sub = self.sub_ref(assets, files, audio=False)
            text = self.pick([f"replace the {obj} with [{sub}]", f"swap out the {obj} for [{sub}]",
                              f"put [{sub}] where the {obj} is", f"swap the {obj} for [{sub}]",
                              f"use [{sub}] instead of the {obj}"])  # fmt: skip
            return text, op_json("replace", f"the {obj}", sub), [sub], None
        new = self.colour(self.pick([o for o in OBJECTS if o != obj]))
        text = self.pick([f"replace {self.the(obj)} with {an(new)}", f"swap the {obj} for {an(new)}",
                          f"the {obj} should be {an(new)}", f"turn the {obj} into {an(new)}",
                          f"swap out the {obj} for {an(new)}", f"change the {obj} to {an(new)}",
                          f"instead of the {obj}, {an(new)}", f"make the {obj} {an(new)}",
                          f"what if the {obj} was {an(new)}?", f"exchange the {obj} for {an(new)}",
                          f"I'd rather have {an(new)} than the {obj}"])  # fmt: skip
        return text, op_json("replace", f"the {obj} with {an(new)}"), [], None

    def _recolor(self, obj: str, where: str) -> Clause:
        colour = self.pick(COLOURS)
        if self.rng.random() < 0.06:  # a whole picture given its colours back
            text = self.pick([f"colourise {where}", f"colorize {where}", f"add colour to {where}"])
            return text, op_json("recolor", "the picture in colour"), [], None
        text = self.pick([f"make {self.the(obj)} {colour}", f"paint the {obj} {colour}",
                          f"what if the {obj} was {colour}?", f"the {obj} should be {colour}",
                          f"change the colour of the {obj} to {colour}", f"turn the {obj} {colour}",
                          f"could the {obj} be {colour}?", f"let the {obj} be {colour}",
                          f"recolour the {obj} {colour}", f"dye the {obj} {colour}",
                          f"I want the {obj} in {colour}", f"why not make the {obj} {colour}?",
                          f"can you make the {obj} {colour}?", f"a {colour} {obj} instead"])  # fmt: skip
        return text, op_json("recolor", f"the {obj} {colour}"), [], None

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
        return text, op_json("move", f"the {obj} {direction}"), [], None

    def _variation(self, where: str) -> Clause:
        target = where if where.startswith("[") else "it"
        text = self.pick([f"make a variation of {target}", "try another version of this",
                          f"give me another version of {target}", f"remix {target}",
                          "one more like that", "again but different", f"another take on {target}",
                          "reroll", "same thing, different details", "show me a different version",
                          "do it again", "more like this", f"a new version of {target} please",
                          f"shuffle {target} a bit", f"vary {target}", "another one like this"])  # fmt: skip
        return text, op_json("variation"), [], None

    def _restyle(self, where: str, assets: dict[str, str], files: dict[str, str]) -> Clause:
        """In words ("make it snowy"), after an image ("like [monet]") or a sound, named in
        brackets or, when it is the only one of its kind, in words ("the song")."""
        if self.rng.random() < 0.4:
            look = self.pick(LOOKS)
            text = self.pick([f"make it {look}", f"make {where} {look}", f"could you make it {look}?",
                              f"I'd like {where} {look}", f"can {where} {look}?" if look.startswith(
                                  ("look", "feel")) else f"make it more {look}"])  # fmt: skip
            look_words = look.removeprefix("look ").removeprefix("feel ")
            return text, op_json("restyle", look_words), [], None
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
        return text, op_json("restyle", "", style), [], style


def an(noun: str) -> str:
    """``noun`` with its article: "an owl", "a red hat", "sunglasses"."""
    if noun.split()[-1] in {"sunglasses", "glasses", "flowers", "gloves", "boots"}:
        return noun
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
