"""Writes the everyday planner sets: instructions as people type them, with the plan each must give.

    python benchmarks/data/make_everyday_set.py          # writes the dev files, checks held-out

Unlike ``planner-edit.jsonl`` (written around the grammar's own verbs), these rows were written
from how people phrase requests: questions, "let / have / should", "X should be gone", "swap X for
Y", one attachment without brackets, "it" and "the picture" inside a session, typos, odd casing,
file names, audio and style references, and requests that must be answered with a question.

Rows are grouped by *category* (what is being tested) and *phrasing* (the wording pattern). The
split is by phrasing, so held-out rows never share a wording pattern with dev rows: inside each
category, the k-th distinct phrasing (in the order below, counting from 0) is held out when
``k % 5 in (1, 3)`` and is dev otherwise -- about 60/40. The held-out files are frozen: this
script writes them only when they are missing and otherwise checks that they are unchanged.
Rows written after the freeze (``EDITS_AFTER_FREEZE``, ``LAYOUTS_AFTER_FREEZE``) are all dev and come after the split
rows, so adding them changes neither the split nor the held-out file. From the ninth sitting on,
rows are written straight into the dev files (ids ``vh001``...); this script keeps every dev row
whose id it does not write itself, after its own.

Edit row fields (``planner-dev.jsonl``'s, plus):
  ``files``    this turn's attachments and their file names; absent means every asset except
               ``last`` was attached this turn. ``last`` in ``assets`` is the session's current
               image (the row is inside a session).
  ``clarify``  the planner must ask instead of planning; the names the question must offer
               (base, subs, ops_any and style_ref are then null/empty).
Layout row fields (``layout-dev.jsonl``'s, plus):
  relations   [a, left_of|right_of|above|below|next_to|inside, b] or [a, between, b, c]
  ``refuse``  the planner must refuse with a reason instead of drawing (counts/relations empty).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EDIT_DEV, EDIT_HELD = HERE / "everyday-edit-dev.jsonl", HERE / "everyday-edit-heldout.jsonl"
LAYOUT_DEV, LAYOUT_HELD = HERE / "everyday-layout-dev.jsonl", HERE / "everyday-layout-heldout.jsonl"

A, RM, RP, RC, RS, MV, VA, GE = "add", "remove", "replace", "recolor", "restyle", "move", "variation", "generate"  # fmt: skip

# (category, phrasing, assets, instruction, base, subs, ops_any, style_ref, extra)
# assets: "photo song:a last" = image photo, audio song, the session's current image.
# extra: {"files": {...}} for this turn's attachments, {"clarify": [...]} for a question.
# fmt: off
EDITS: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    # -- one attachment, no brackets: the attachment is the image edited -------------------------
    ("one-attachment", "let-wear", "photo", "let the man wear sunglasses", "photo", [], [[A]], None, {}),
    ("one-attachment", "let-wear", "img_2231", "let the girl hold a red umbrella", "img_2231", [], [[A]], None, {}),
    ("one-attachment", "what-if-was", "photo", "what if the car was blue?", "photo", [], [[RC]], None, {}),
    ("one-attachment", "what-if-was", "kitchen", "what if the cupboards were white", "kitchen", [], [[RC]], None, {}),
    ("one-attachment", "make-it-adjective", "photo", "make it snowy", "photo", [], [[RS]], None, {}),
    ("one-attachment", "make-it-adjective", "street", "make it look like it's raining", "street", [], [[RS]], None, {}),
    ("one-attachment", "add-no-image", "garden", "add a small pond", "garden", [], [[A]], None, {}),
    ("one-attachment", "add-no-image", "sofa", "put a sleeping cat on the sofa", "sofa", [], [[A]], None, {}),
    ("one-attachment", "colorize", "scan", "colorize this old photo", "scan", [], [[RC], [RS]], None, {}),
    ("one-attachment", "colorize", "grandpa", "colourise the picture", "grandpa", [], [[RC], [RS]], None, {}),
    ("one-attachment", "give-x-a-y", "dog", "give the dog a party hat", "dog", [], [[A]], None, {}),
    ("one-attachment", "give-x-a-y", "portrait", "give her a pearl necklace", "portrait", [], [[A]], None, {}),
    ("one-attachment", "needs-a", "view", "it needs a moon in the sky", "view", [], [[A]], None, {}),
    ("one-attachment", "needs-a", "desk", "this could use a plant in the corner", "desk", [], [[A]], None, {}),
    ("one-attachment", "paint-x-colour", "fence", "paint the fence white", "fence", [], [[RC]], None, {}),
    ("one-attachment", "paint-x-colour", "bedroom", "paint the walls a soft yellow", "bedroom", [], [[RC]], None, {}),
    ("one-attachment", "turn-this-into", "selfie", "turn this into a pencil sketch", "selfie", [], [[RS]], None, {}),
    ("one-attachment", "turn-this-into", "harbour", "turn the photo into a watercolour", "harbour", [], [[RS]], None, {}),
    ("one-attachment", "bare-remove", "beach", "remove the people", "beach", [], [[RM]], None, {}),
    ("one-attachment", "bare-remove", "alley", "erase the graffiti on the left wall", "alley", [], [[RM]], None, {}),
    # -- inside a session: "it", "this", "the picture" and bare edits are the current image ------
    ("session", "make-it", "last", "make it snowy", "last", [], [[RS]], None, {"files": {}}),
    ("session", "make-it", "last beach", "make it look like sunset", "last", [], [[RS]], None, {"files": {}}),
    ("session", "now-bare-edit", "last", "now remove the hat", "last", [], [[RM]], None, {"files": {}}),
    ("session", "now-bare-edit", "last dog", "now make the ball green", "last", [], [[RC]], None, {"files": {}}),
    ("session", "to-this", "last", "add a second dog to this", "last", [], [[A]], None, {"files": {}}),
    ("session", "to-this", "last", "put a bird in it", "last", [], [[A]], None, {"files": {}}),
    ("session", "the-picture", "last", "turn the picture into a watercolour", "last", [], [[RS]], None, {"files": {}}),
    ("session", "the-picture", "last cat", "make the picture look older", "last", [], [[RS]], None, {"files": {}}),
    ("session", "ref-into-it", "last cat", "add [cat] to it", "last", ["cat"], [[A]], None, {"files": {}}),
    ("session", "ref-into-it", "last hat", "put [hat] on the man in the picture", "last", ["hat"], [[A]], None, {"files": {"hat": "hat.png"}}),
    ("session", "attached-this-turn", "last beach", "make it snowy", "beach", [], [[RS]], None, {"files": {"beach": "beach.jpg"}}),
    ("session", "attached-this-turn", "last shed", "remove the bike", "shed", [], [[RM]], None, {"files": {"shed": "IMG_8812.jpg"}}),
    ("session", "same-but", "last", "same thing but at night", "last", [], [[RS]], None, {"files": {}}),
    ("session", "same-but", "last", "keep everything, just make it autumn", "last", [], [[RS]], None, {"files": {}}),
    ("session", "bare-move", "last", "move the cat to the left", "last", [], [[MV]], None, {"files": {}}),
    ("session", "bare-move", "last", "shift the tree a little to the right", "last", [], [[MV]], None, {"files": {}}),
    # -- questions --------------------------------------------------------------------------------
    ("question", "could-you", "room", "could you get the lamp out of [room]?", "room", [], [[RM]], None, {}),
    ("question", "could-you", "den", "could you make the sofa in [den] grey?", "den", [], [[RC]], None, {}),
    ("question", "is-it-possible", "den", "is it possible to make the rug in [den] red?", "den", [], [[RC]], None, {}),
    ("question", "is-it-possible", "pier", "is it possible to remove the boats from [pier]?", "pier", [], [[RM]], None, {}),
    ("question", "how-about", "view", "how about a hot air balloon in the sky of [view]?", "view", [], [[A]], None, {}),
    ("question", "how-about", "patio", "how about some lanterns in [patio]?", "patio", [], [[A]], None, {}),
    ("question", "what-would-look-like", "house", "what would [house] look like in winter?", "house", [], [[RS]], None, {}),
    ("question", "what-would-look-like", "street", "what would [street] look like at night?", "street", [], [[RS]], None, {}),
    ("question", "can-the-be", "shot", "can the dog in [shot] be on the right instead?", "shot", [], [[MV]], None, {}),
    ("question", "can-the-be", "car", "can the car in [car] be silver?", "car", [], [[RC]], None, {}),
    ("question", "why-not", "lake", "why not add a boat to [lake]?", "lake", [], [[A]], None, {}),
    ("question", "why-not", "field", "why not put a scarecrow in [field]?", "field", [], [[A]], None, {}),
    # -- let / have / should ---------------------------------------------------------------------
    ("let-have-should", "have-x-wear", "cat", "have the cat wear a bow tie", "cat", [], [[A]], None, {}),
    ("let-have-should", "have-x-wear", "kid", "have the boy wear a raincoat", "kid", [], [[A]], None, {}),
    ("let-have-should", "let-there-be", "town", "let there be a full moon over [town]", "town", [], [[A]], None, {}),
    ("let-have-should", "let-there-be", "bay", "let there be fireworks above [bay]", "bay", [], [[A]], None, {}),
    ("let-have-should", "x-should-be-holding", "woman", "the woman should be holding flowers", "woman", [], [[A]], None, {}),
    ("let-have-should", "x-should-be-holding", "pic", "the man in [pic] should be holding a coffee", "pic", [], [[A]], None, {}),
    ("let-have-should", "image-should-have", "garden", "[garden] should have a bench on the left", "garden", [], [[A]], None, {}),
    ("let-have-should", "image-should-have", "shelf", "[shelf] should have a few more books", "shelf", [], [[A]], None, {}),
    ("let-have-should", "let-x-be-colour", "shore", "let the sky in [shore] be purple", "shore", [], [[RC]], None, {}),
    ("let-have-should", "let-x-be-colour", "van", "let the van be bright orange", "van", [], [[RC]], None, {}),
    # -- "X should be gone" and other ways to remove ---------------------------------------------
    ("gone", "should-be-gone", "yard", "the trash bins should be gone", "yard", [], [[RM]], None, {}),
    ("gone", "should-be-gone", "street", "the parked cars in [street] should be gone", "street", [], [[RM]], None, {}),
    ("gone", "has-to-go", "ceiling", "the wires in [ceiling] have to go", "ceiling", [], [[RM]], None, {}),
    ("gone", "has-to-go", "mug", "the logo on the mug has to go", "mug", [], [[RM]], None, {}),
    ("gone", "no-more", "plaza", "no more tourists in [plaza], please", "plaza", [], [[RM]], None, {}),
    ("gone", "no-more", "hall", "no more posters on the wall in [hall]", "hall", [], [[RM]], None, {}),
    ("gone", "lose-the", "me", "lose the sunglasses", "me", [], [[RM]], None, {}),
    ("gone", "lose-the", "bike", "lose the basket on [bike]", "bike", [], [[RM]], None, {}),
    ("gone", "shouldnt-be", "drive", "there shouldn't be a car in the driveway", "drive", [], [[RM]], None, {}),
    ("gone", "shouldnt-be", "lawn", "there shouldn't be any leaves on [lawn]", "lawn", [], [[RM]], None, {}),
    # -- swap X for Y -----------------------------------------------------------------------------
    ("swap", "swap-for", "pet", "swap the cat for a rabbit", "pet", [], [[RP]], None, {}),
    ("swap", "swap-for", "cafe", "swap the mugs in [cafe] for wine glasses", "cafe", [], [[RP]], None, {}),
    ("swap", "switch-with", "tea", "switch the mug with a teacup", "tea", [], [[RP]], None, {}),
    ("swap", "switch-with", "desk", "switch the laptop in [desk] with a typewriter", "desk", [], [[RP]], None, {}),
    ("swap", "swap-out-for-ref", "photo sunset", "swap out the sky for [sunset]", "photo", ["sunset"], [[RP]], None, {}),
    ("swap", "swap-out-for-ref", "yard pup", "swap out the cat in [yard] for [pup]", "yard", ["pup"], [[RP]], None, {}),
    ("swap", "where-x-is", "park", "put a tiger where the dog is", "park", [], [[RP], [RM, A]], None, {}),
    ("swap", "where-x-is", "table cake", "put [cake] where the pie is in [table]", "table", ["cake"], [[RP], [RM, A]], None, {}),
    ("swap", "x-should-be-a-y", "diner", "the burger should be a pizza", "diner", [], [[RP]], None, {}),
    ("swap", "x-should-be-a-y", "stable", "the horse in [stable] should be a zebra", "stable", [], [[RP]], None, {}),
    # -- get rid of / take away -------------------------------------------------------------------
    ("get-rid-take-away", "get-rid-bare", "road", "get rid of the car", "road", [], [[RM]], None, {}),
    ("get-rid-take-away", "get-rid-bare", "party", "get rid of everyone in the background", "party", [], [[RM]], None, {}),
    ("get-rid-take-away", "take-x-away", "roof", "take the ladder away", "roof", [], [[RM]], None, {}),
    ("get-rid-take-away", "take-x-away", "porch", "take the boxes in [porch] away", "porch", [], [[RM]], None, {}),
    ("get-rid-take-away", "take-x-off", "laptop", "take the sticker off the laptop", "laptop", [], [[RM]], None, {}),
    ("get-rid-take-away", "take-x-off", "fridge", "take the magnets off the fridge in [fridge]", "fridge", [], [[RM]], None, {}),
    ("get-rid-take-away", "ditch", "me", "ditch the hat", "me", [], [[RM]], None, {}),
    ("get-rid-take-away", "ditch", "hike", "ditch the backpack in [hike]", "hike", [], [[RM]], None, {}),
    ("get-rid-take-away", "take-away-the", "shop", "take away the sign above [shop]'s door", "shop", [], [[RM]], None, {}),
    ("get-rid-take-away", "take-away-the", "beach", "take away the footprints", "beach", [], [[RM]], None, {}),
    # -- typos -----------------------------------------------------------------------------------
    ("typo", "verb-typo-remove", "street", "remvoe the car from [street]", "street", [], [[RM]], None, {}),
    ("typo", "verb-typo-remove", "desk", "reomve the cables", "desk", [], [[RM]], None, {}),
    ("typo", "verb-typo-add", "park dog", "ad [dog] to [park]", "park", ["dog"], [[A]], None, {}),
    ("typo", "verb-typo-add", "sky", "addd a rainbow to [sky]", "sky", [], [[A]], None, {}),
    ("typo", "verb-typo-make", "photo", "mkae the sky pink", "photo", [], [[RC]], None, {}),
    ("typo", "verb-typo-make", "town", "amke [town] look like winter", "town", [], [[RS]], None, {}),
    ("typo", "word-typo", "table vase lamp", "replce the vase in [table] with [lamp]", "table", ["lamp"], [[RP]], None, {}),
    ("typo", "word-typo", "wall", "chnage the door in [wall] to red", "wall", [], [[RC]], None, {}),
    ("typo", "preposition-typo", "dog", "add a hat too the dog", "dog", [], [[A]], None, {}),
    ("typo", "preposition-typo", "cables", "get rid off the wires", "cables", [], [[RM]], None, {}),
    # -- casing ----------------------------------------------------------------------------------
    ("casing", "all-caps", "sky", "ADD A RAINBOW TO [sky]", "sky", [], [[A]], None, {}),
    ("casing", "all-caps", "yard", "REMOVE THE HOSE", "yard", [], [[RM]], None, {}),
    ("casing", "title-case", "alley", "Remove The Bin From [alley]", "alley", [], [[RM]], None, {}),
    ("casing", "title-case", "Photo", "Make [Photo] Look Like Autumn", "Photo", [], [[RS]], None, {}),
    ("casing", "mixed-case", "car", "mAkE tHe CaR bLuE", "car", [], [[RC]], None, {}),
    ("casing", "mixed-case", "room cat", "pUt [cat] In [room]", "room", ["cat"], [[A]], None, {}),
    # -- compound instructions ---------------------------------------------------------------------
    ("compound", "three-commas", "photo", "remove the car, add a tree and make the sky orange", "photo", [], [[RM, A, RC]], None, {}),
    ("compound", "three-commas", "pond", "make the water green, remove the ducks, add a frog", "pond", [], [[RC, RM, A]], None, {}),
    ("compound", "get-rid-and-make", "office", "get rid of the cables and make the wall white", "office", [], [[RM, RC]], None, {}),
    ("compound", "get-rid-and-make", "attic", "get rid of the boxes in [attic] and make it brighter", "attic", [], [[RM, RS], [RM, RC]], None, {}),
    ("compound", "first-then", "farm", "first remove the fence, then paint the barn red", "farm", [], [[RM, RC]], None, {}),
    ("compound", "first-then", "lake ref", "first take out the dock, then make it look like [ref]", "lake", [], [[RM, RS]], "ref", {}),
    ("compound", "ref-and-style", "park dog vg", "add [dog] to [park] then make everything look like [vg]", "park", ["dog"], [[A, RS]], "vg", {}),
    ("compound", "ref-and-style", "photo hat", "put [hat] on the man and make it night", "photo", ["hat"], [[A, RS]], None, {}),
    ("compound", "remove-and-put-there", "curb", "take out the trash can and put a plant there", "curb", [], [[RM, A], [RP]], None, {}),
    ("compound", "remove-and-put-there", "hall", "remove the coat rack and put a mirror in its place", "hall", [], [[RM, A], [RP]], None, {}),
    # -- audio references ----------------------------------------------------------------------
    ("audio", "feel-the-way-sounds", "field thunder:a", "I want [field] to feel the way [thunder] sounds", "field", [], [[RS]], "thunder", {}),
    ("audio", "feel-the-way-sounds", "city rain:a", "make [city] feel the way [rain] sounds", "city", [], [[RS]], "rain", {}),
    ("audio", "add-what-you-hear", "yard bark:a", "add the animal you hear in [bark] to [yard]", "yard", ["bark"], [[A]], None, {}),
    ("audio", "add-what-you-hear", "farm moo:a", "put whatever makes the sound in [moo] into [farm]", "farm", ["moo"], [[A]], None, {}),
    ("audio", "the-song-unbracketed", "beach song:a", "make the photo feel like the song", "beach", [], [[RS]], "song", {}),
    ("audio", "the-song-unbracketed", "cabin fire:a", "make the picture match the sound", "cabin", [], [[RS]], "fire", {}),
    ("audio", "audio-into-session", "last siren:a", "add [siren] to it", "last", ["siren"], [[A]], None, {"files": {"siren": "siren.wav"}}),
    ("audio", "audio-into-session", "last gulls:a", "put [gulls] in the picture", "last", ["gulls"], [[A]], None, {"files": {"gulls": "gulls.mp3"}}),
    ("audio", "scene-from-sound", "waves:a", "a beach at dusk that feels like [waves]", None, [], [[GE]], "waves", {}),
    ("audio", "scene-from-sound", "crickets:a", "draw a summer night that sounds like [crickets]", None, [], [[GE]], "crickets", {}),
    # -- style references ----------------------------------------------------------------------
    ("style", "the-way-would", "house monet", "do [house] the way [monet] would", "house", [], [[RS]], "monet", {}),
    ("style", "the-way-would", "pier turner", "paint [pier] the way [turner] would", "pier", [], [[RS]], "turner", {}),
    ("style", "make-it-look-like-ref", "photo poster", "make it look like [poster]", "photo", [], [[RS]], "poster", {}),
    ("style", "make-it-look-like-ref", "room ad", "make the room look like [ad]", "room", [], [[RS]], "ad", {}),
    ("style", "same-vibe-as", "photo ref", "same vibe as [ref] please", "photo", [], [[RS]], "ref", {}),
    ("style", "same-vibe-as", "trip film", "same colours as [film]", "trip", [], [[RS]], "film", {}),
    ("style", "copy-onto", "lake sunset", "copy the colours from [sunset] onto [lake]", "lake", [], [[RS]], "sunset", {}),
    ("style", "copy-onto", "portrait noir", "borrow the lighting of [noir] for [portrait]", "portrait", [], [[RS]], "noir", {}),
    ("style", "but-painted-like", "portrait klimt", "[portrait], but painted like [klimt]", "portrait", [], [[RS]], "klimt", {}),
    ("style", "but-painted-like", "bridge hokusai", "[bridge] but drawn like [hokusai]", "bridge", [], [[RS]], "hokusai", {}),
    # -- file names as references ----------------------------------------------------------------
    ("file-name", "add-file-to-file", "photo dog", "add [dog_2.png] to [IMG_0042.jpg]", "photo", ["dog"], [[A]], None, {"files": {"photo": "IMG_0042.jpg", "dog": "dog_2.png"}}),
    ("file-name", "add-file-to-file", "meadow rain:a", "add [rain.wav] to [meadow.png]", "meadow", ["rain"], [[A]], None, {"files": {"meadow": "meadow.png", "rain": "rain.wav"}}),
    ("file-name", "remove-from-file", "street", "remove the car from [DSC_0193.JPG]", "street", [], [[RM]], None, {"files": {"street": "DSC_0193.JPG"}}),
    ("file-name", "remove-from-file", "shore", "get rid of the seaweed in [beach day.jpeg]", "shore", [], [[RM]], None, {"files": {"shore": "beach day.jpeg"}}),
    ("file-name", "style-from-file", "trip starry", "make [holiday-2019.jpeg] look like [starry_night.png]", "trip", [], [[RS]], "starry", {"files": {"trip": "holiday-2019.jpeg", "starry": "starry_night.png"}}),
    ("file-name", "style-from-file", "pic sketch", "restyle [scan_01.png] like [sketchbook.jpg]", "pic", [], [[RS]], "sketch", {"files": {"pic": "scan_01.png", "sketch": "sketchbook.jpg"}}),
    ("file-name", "subject-from-file", "tree bird", "put the bird from [bird.webp] on the branch in [tree.jpg]", "tree", ["bird"], [[A]], None, {"files": {"tree": "tree.jpg", "bird": "bird.webp"}}),
    ("file-name", "subject-from-file", "room chair", "put the chair from [chair_ikea.png] next to the window in [living.jpg]", "room", ["chair"], [[A]], None, {"files": {"room": "living.jpg", "chair": "chair_ikea.png"}}),
    # -- descriptions of a new picture -----------------------------------------------------------
    ("describe", "bare-noun-phrase", "", "a cosy cabin in the snow at dusk", None, [], [[GE]], None, {}),
    ("describe", "bare-noun-phrase", "", "dog on a surfboard, cartoon style", None, [], [[GE]], None, {}),
    ("describe", "can-you-draw-me", "", "can you draw me a fox in a forest", None, [], [[GE]], None, {}),
    ("describe", "can-you-draw-me", "", "could you paint me a bowl of cherries?", None, [], [[GE]], None, {}),
    ("describe", "i-need-a-picture", "", "I need a picture of a red bicycle leaning on a wall", None, [], [[GE]], None, {}),
    ("describe", "i-need-a-picture", "", "i'd like an image of two owls on a branch", None, [], [[GE]], None, {}),
    ("describe", "make-me-a", "", "make me a poster of a mountain sunrise", None, [], [[GE]], None, {}),
    ("describe", "make-me-a", "", "make me a birthday card with balloons", None, [], [[GE]], None, {}),
    ("describe", "with-style-ref", "ref", "a quiet harbour at night in the style of [ref]", None, [], [[GE]], "ref", {}),
    ("describe", "with-style-ref", "mood", "draw a city street with the mood of [mood]", None, [], [[GE]], "mood", {}),
    # -- moves -------------------------------------------------------------------------------
    ("move", "scoot", "den", "scoot the chair a little to the left", "den", [], [[MV]], None, {}),
    ("move", "scoot", "desk", "scoot the lamp in [desk] over to the right", "desk", [], [[MV]], None, {}),
    ("move", "x-should-be-on-the", "pet", "the dog should be on the right", "pet", [], [[MV]], None, {}),
    ("move", "x-should-be-on-the", "pic", "the sun in [pic] should be higher up", "pic", [], [[MV]], None, {}),
    ("move", "drag-into-corner", "poster", "can you drag the logo into the top left corner", "poster", [], [[MV]], None, {}),
    ("move", "drag-into-corner", "card", "drag the stamp in [card] to the bottom right", "card", [], [[MV]], None, {}),
    ("move", "other-side", "room", "put the lamp on the other side", "room", [], [[MV]], None, {}),
    ("move", "other-side", "bay", "move the boat in [bay] to the other side", "bay", [], [[MV]], None, {}),
    # -- variations ------------------------------------------------------------------------------
    ("variation", "another-version-this", "last", "try another version of this", "last", [], [[VA]], None, {"files": {}}),
    ("variation", "another-version-this", "last", "give me another version of it", "last", [], [[VA]], None, {"files": {}}),
    ("variation", "different-take", "logo", "give me a different take on [logo]", "logo", [], [[VA]], None, {}),
    ("variation", "different-take", "poster", "a different take on [poster], please", "poster", [], [[VA]], None, {}),
    ("variation", "again-but-different", "last", "again, but slightly different", "last", [], [[VA]], None, {"files": {}}),
    ("variation", "again-but-different", "last", "one more like that", "last", [], [[VA]], None, {"files": {}}),
    # -- must ask instead of guessing -----------------------------------------------------------
    ("clarify", "two-images-it", "a b", "make it snowy", None, [], [], None, {"clarify": ["a", "b"]}),
    ("clarify", "two-images-it", "kid1 kid2", "put a hat on him", None, [], [], None, {"clarify": ["kid1", "kid2"]}),
    ("clarify", "two-images-bare", "beach pool", "remove the umbrella", None, [], [], None, {"clarify": ["beach", "pool"]}),
    ("clarify", "two-images-bare", "last x y", "make the sky purple", None, [], [], None, {"clarify": ["x", "y"], "files": {"x": "x.jpg", "y": "y.jpg"}}),
    ("clarify", "unused-attachment", "beach dog", "make [beach] snowy", None, [], [], None, {"clarify": ["dog"]}),
    ("clarify", "unused-attachment", "room lamp", "remove the chair from [room]", None, [], [], None, {"clarify": ["lamp"]}),
    ("clarify", "description-with-attachment", "photo", "a castle on a hill", None, [], [], None, {"clarify": ["photo"]}),
    ("clarify", "description-with-attachment", "scan", "two cats playing with yarn", None, [], [], None, {"clarify": ["scan"]}),
    ("clarify", "unknown-object", "pic", "remove that", None, [], [], None, {"clarify": []}),
    ("clarify", "unknown-object", "pic", "move it to the left", None, [], [], None, {"clarify": []}),
]

# Edit rows written after the freeze, from a second sitting (all dev; ids va001...). New wordings
# only: none of them copies a dev row's pattern with new nouns.
EDITS_AFTER_FREEZE: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("one-attachment", "put-on-the", "photo", "put a crown on the king", "photo", [], [[A]], None, {}),
    ("one-attachment", "could-use", "sky", "could use a few more clouds", "sky", [], [[A]], None, {}),
    ("one-attachment", "there-should-be", "night", "there should be a moon in the sky", "night", [], [[A]], None, {}),
    ("one-attachment", "stick-on", "house", "stick a flag on the roof", "house", [], [[A]], None, {}),
    ("one-attachment", "throw-in", "park", "throw in a couple of pigeons", "park", [], [[A]], None, {}),
    ("one-attachment", "comparative-colour", "lawn", "make the grass greener", "lawn", [], [[RC]], None, {}),
    ("one-attachment", "want-in-colour", "me", "I want the jacket in green", "me", [], [[RC]], None, {}),
    ("one-attachment", "change-colour-to", "cars", "change the red car to blue", "cars", [], [[RC]], None, {}),
    ("one-attachment", "lose-the", "shot", "lose the watermark", "shot", [], [[RM]], None, {}),
    ("one-attachment", "ditch", "porch", "ditch the bike", "porch", [], [[RM]], None, {}),
    ("one-attachment", "needs-to-go", "park", "the bench needs to go", "park", [], [[RM]], None, {}),
    ("one-attachment", "no-x-please", "road", "no cars please", "road", [], [[RM]], None, {}),
    ("one-attachment", "turn-into-medium", "selfie", "turn this into a watercolor", "selfie", [], [[RS]], None, {}),
    ("one-attachment", "look-adjective", "town", "make it look vintage", "town", [], [[RS]], None, {}),
    ("one-attachment", "can-i-see-as", "face", "can i see it as a pencil sketch?", "face", [], [[RS]], None, {}),
    ("one-attachment", "turn-x-into-y", "yard", "turn the dog into a cat", "yard", [], [[RP]], None, {}),
    ("one-attachment", "instead-of", "street", "a lamp post instead of the tree", "street", [], [[RP]], None, {}),
    ("one-attachment", "on-the-side", "pets", "put the cat on the right side", "pets", [], [[MV]], None, {}),
    ("one-attachment", "slide", "harbour", "slide the boat to the left", "harbour", [], [[MV]], None, {}),
    ("one-attachment", "show-variations", "logo", "show me some variations", "logo", [], [[VA]], None, {}),
    ("refs", "ref-next-to", "park dog", "[dog] next to the bench in [park]", "park", ["dog"], [[A]], None, {}),
    ("refs", "can-ref-sit", "room cat", "can [cat] sit on the sofa in [room]?", "room", ["cat"], [[A]], None, {}),
    ("refs", "drop-into", "pond duck", "drop [duck] into [pond]", "pond", ["duck"], [[A]], None, {}),
    ("refs", "use-instead", "photo hat", "use [hat] instead of the cap in [photo]", "photo", ["hat"], [[RP]], None, {}),
    ("refs", "but-with", "kid glasses", "[kid] but with [glasses]", "kid", ["glasses"], [[A]], None, {}),
    ("refs", "colours-of", "street sunset", "give [street] the colours of [sunset]", "street", [], [[RS]], "sunset", {}),
    ("refs", "style-after", "photo print", "style [photo] after [print]", "photo", [], [[RS]], "print", {}),
    ("refs", "match-the-look", "photo film", "match the look of [film]", "photo", [], [[RS]], "film", {}),
    ("session", "now-verb", "last", "now remove the dog", "last", [], [[RM]], None, {"files": {}}),
    ("session", "ok-now", "last", "ok now paint the door red", "last", [], [[RC]], None, {"files": {}}),
    ("session", "nice-now", "last", "nice, now make it night", "last", [], [[RS]], None, {"files": {}}),
    ("session", "actually", "last", "actually, add a cat", "last", [], [[A]], None, {"files": {}}),
    ("session", "hmm-lose", "last", "hmm, lose the clouds", "last", [], [[RM]], None, {"files": {}}),
    ("session", "ref-in-there-too", "last cat", "put [cat] in there too", "last", ["cat"], [[A]], None, {"files": {}}),
    ("session", "do-again-different", "last", "can you do that again but different", "last", [], [[VA]], None, {"files": {}}),
    ("session", "same-but-season", "last", "same thing but in winter", "last", [], [[RS]], None, {"files": {}}),
    ("session", "attached-now", "last garden", "take the hose out of this one", "garden", [], [[RM]], None, {"files": {"garden": "garden.jpg"}}),
    ("audio", "with-mood-of", "photo storm:a", "[photo] with the mood of [storm]", "photo", [], [[RS]], "storm", {}),
    ("audio", "let-sound-set-mood", "street rain:a", "let [rain] set the mood for [street]", "street", [], [[RS]], "rain", {}),
    ("audio", "what-it-sounds-like", "engine:a", "show me what [engine] sounds like", None, ["engine"], [[GE]], None, {}),
    ("audio", "put-sound-into", "garden birds:a", "put [birds] into [garden]", "garden", ["birds"], [[A]], None, {}),
    ("compound", "semicolon", "road", "remove the car; add a bike", "road", [], [[RM, A]], None, {}),
    ("compound", "and-also", "sky", "make the sky pink and also get rid of the birds", "sky", [], [[RC, RM]], None, {}),
    ("compound", "then-move", "park", "add a tree, then move the bench to the right", "park", [], [[A, MV]], None, {}),
    ("describe", "draw-me", "", "can you draw me a lighthouse on a cliff", None, [], [[GE]], None, {}),
    ("describe", "generate-count", "", "generate three red apples on a table", None, [], [[GE]], None, {}),
    ("describe", "picture-this", "", "picture this: a fox in the snow", None, [], [[GE]], None, {}),
    ("describe", "show-me", "", "show me a sunset over the mountains", None, [], [[GE]], None, {}),
    ("typo", "recolor-typo", "car", "recolr the car red", "car", [], [[RC]], None, {}),
    ("typo", "article-typo", "sky", "add a bird in teh sky", "sky", [], [[A]], None, {}),
    ("typo", "replace-typo", "pets", "replcae the cat with a dog", "pets", [], [[RP]], None, {}),
    ("casing", "title-case", "beach", "Make The Sky Orange", "beach", [], [[RC]], None, {}),
    ("casing", "shouting-remove", "drive", "GET RID OF THE BIKE", "drive", [], [[RM]], None, {}),
    ("move", "would-look-better", "den", "the chair would look better on the left", "den", [], [[MV]], None, {}),
    ("move", "could-be-further", "lake", "could the boat be further right?", "lake", [], [[MV]], None, {}),
    ("move", "bring-to-centre", "field", "bring the dog to the middle", "field", [], [[MV]], None, {}),
    ("variation", "reroll", "last", "reroll", "last", [], [[VA]], None, {"files": {}}),
    ("variation", "few-alternatives", "last", "give me a few alternatives", "last", [], [[VA]], None, {"files": {}}),
    ("variation", "same-scene-new-details", "last", "same scene, new details", "last", [], [[VA]], None, {"files": {}}),
    ("clarify", "two-images-bare-remove", "a b", "remove the car", None, [], [], None, {"clarify": ["a", "b"]}),
    ("clarify", "two-images-bare-recolor", "left right", "make the sky purple", None, [], [], None, {"clarify": ["left", "right"]}),
    ("clarify", "unused-ref-add", "kid cat", "add a hat to [kid]", None, [], [], None, {"clarify": ["cat"]}),
    ("clarify", "vague-delete", "pic", "delete it", None, [], [], None, {"clarify": []}),
]

# A third sitting (2026-12-02, all dev; ids vb001...), written before any change they led to, in
# wordings neither earlier sitting used.
EDITS_THIRD_SITTING: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("one-attachment", "pop-in-corner", "photo", "pop a red balloon in the corner", "photo", [], [[A]], None, {}),
    ("one-attachment", "could-you-give", "portrait", "could you give him a beard", "portrait", [], [[A]], None, {}),
    ("one-attachment", "id-love-some", "cabin", "I'd love some snow on the roof", "cabin", [], [[A], [RS]], None, {}),
    ("one-attachment", "ought-to-be", "me", "the shirt ought to be yellow", "me", [], [[RC]], None, {}),
    ("one-attachment", "paint-please", "yard", "paint the fence white please", "yard", [], [[RC]], None, {}),
    ("one-attachment", "how-would-it-look", "house", "how would it look with a blue door", "house", [], [[RC], [A]], None, {}),
    ("one-attachment", "erase", "view", "erase the power lines", "view", [], [[RM]], None, {}),
    ("one-attachment", "out-of-here", "street", "get that trash can out of here", "street", [], [[RM]], None, {}),
    ("one-attachment", "without-the", "plaza", "without the tourists", "plaza", [], [[RM]], None, {}),
    ("one-attachment", "feel-like-medium", "city", "make it feel like a comic book", "city", [], [[RS]], None, {}),
    ("one-attachment", "redo-in", "portrait", "redo this in oil paint", "portrait", [], [[RS]], None, {}),
    ("one-attachment", "give-it-a-look", "photo", "give it an 80s look", "photo", [], [[RS]], None, {}),
    ("one-attachment", "exchange-for", "desk", "exchange the mug for a teacup", "desk", [], [[RP]], None, {}),
    ("one-attachment", "should-be-an", "branch", "the bird should be an eagle", "branch", [], [[RP]], None, {}),
    ("one-attachment", "shift-a-bit", "room", "shift the lamp a bit to the right", "room", [], [[MV]], None, {}),
    ("one-attachment", "scoot-over", "table", "scoot the vase over to the left", "table", [], [[MV]], None, {}),
    ("one-attachment", "try-other-versions", "logo", "try a few other versions", "logo", [], [[VA]], None, {}),
    ("refs", "stick-ref-on", "desk sticker", "stick [sticker] on the laptop in [desk]", "desk", ["sticker"], [[A]], None, {}),
    ("refs", "i-want-ref-in", "garden puppy", "i want [puppy] sitting in [garden]", "garden", ["puppy"], [[A]], None, {}),
    ("refs", "swap-for-ref", "photo cap", "swap the man's hat in [photo] for [cap]", "photo", ["cap"], [[RP]], None, {}),
    ("refs", "as-if-painted-like", "beach starry", "[beach] as if painted like [starry]", "beach", [], [[RS]], "starry", {}),
    ("session", "great-now-should", "last", "great, now the car should be green", "last", [], [[RC]], None, {"files": {}}),
    ("session", "try-again", "last", "hmm, try that again", "last", [], [[VA]], None, {"files": {}}),
    ("session", "also-get-rid", "last", "also get rid of the shadow", "last", [], [[RM]], None, {"files": {}}),
    ("session", "and-put-next-to-it", "last", "and put a dog next to it", "last", [], [[A]], None, {"files": {}}),
    ("clarify", "unused-ref-put-on", "man dog", "put sunglasses on [man]", None, [], [], None, {"clarify": ["dog"]}),
    ("compound", "as-well", "porch", "recolour the door blue, and remove the bike as well", "porch", [], [[RC, RM]], None, {}),
    ("compound", "first-then", "shop", "first take out the sign, then make the wall red", "shop", [], [[RM, RC]], None, {}),
    ("audio", "but-feel-like-sound", "beach waves:a", "[beach] but make it feel like [waves]", "beach", [], [[RS]], "waves", {}),
]

EDITS_FOURTH_SITTING: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("session", "could-this-one", "last", "could this one be a bit more colourful", "last", [], [[RS]], None, {"files": {}}),
    ("session", "that-thing-on", "last", "get rid of that thing on the left", "last", [], [[RM]], None, {"files": {}}),
    ("session", "now-give-him-ref", "last hat", "now give him [hat]", "last", ["hat"], [[A]], None, {"files": {"hat": "hat.png"}}),
    ("session", "keep-going", "last", "keep going, make the sky even darker", "last", [], [[RC], [RS]], None, {"files": {}}),
    ("session", "brighten-attached", "last street", "brighten this up", "street", [], [[RS]], None, {"files": {"street": "street.jpg"}}),
    ("session", "add-this-to", "last sun", "add this to the sky", "last", ["sun"], [[A]], None, {"files": {"sun": "sun.png"}}),
    ("session", "the-picture-warmer", "last", "make the picture warmer", "last", [], [[RS], [RC]], None, {"files": {}}),
    ("one-attachment", "lose-the", "selfie", "lose the sunglasses", "selfie", [], [[RM]], None, {}),
    ("one-attachment", "could-we-have", "lounge", "could we have a dog sleeping on the rug", "lounge", [], [[A]], None, {}),
    ("one-attachment", "turn-into", "bowl", "turn the apple into a pear", "bowl", [], [[RP]], None, {}),
    ("one-attachment", "nicer-in", "drive", "the car would be nicer in red", "drive", [], [[RC]], None, {}),
    ("one-attachment", "nudge-up", "night", "nudge the moon up a little", "night", [], [[MV]], None, {}),
    ("one-attachment", "couple-alternatives", "poster", "show me a couple of alternatives", "poster", [], [[VA]], None, {}),
    ("one-attachment", "do-it-in-style", "harbor", "do it in the style of van gogh", "harbor", [], [[RS]], None, {}),
    ("refs", "drop-ref-onto", "photo parrot", "drop [parrot] onto the branch in [photo]", "photo", ["parrot"], [[A]], None, {}),
    ("refs", "ref-instead-of", "room sofa", "[sofa] instead of the old couch in [room]", "room", ["sofa"], [[RP]], None, {}),
    ("refs", "borrow-the-look", "city ukiyo", "borrow the look of [ukiyo] for [city]", "city", [], [[RS]], "ukiyo", {}),
    ("refs", "named-without-brackets", "beach dog", "put the dog into the beach photo", "beach", ["dog"], [[A]], None, {"files": {"beach": "beach.jpg", "dog": "dog.jpg"}}),
    ("clarify", "two-photos-brighten", "a b", "brighten it up", None, [], [], None, {"clarify": ["a", "b"]}),
    ("clarify", "change-that", "pic", "change that", None, [], [], None, {"clarify": []}),
    ("clarify", "unused-sound", "street rain:a", "make [street] darker", None, [], [], None, {"clarify": ["rain"]}),
    ("clarify", "draw-new-with-photo", "harbour", "draw me a lighthouse at night", None, [], [], None, {"clarify": ["harbour"]}),
    ("compound", "and-also", "lane", "swap the bike for a scooter and also make the sky pink", "lane", [], [[RP, RC]], None, {}),
    ("compound", "then-whole-thing", "shopfront", "remove the sign, then make the whole thing look like a sketch", "shopfront", [], [[RM, RS]], None, {}),
    ("typo", "remvoe-pls", "road", "remvoe the car pls", "road", [], [[RM]], None, {}),
    ("typo", "teh", "field", "make teh sky purple", "field", [], [[RC]], None, {}),
    ("question", "can-you-look-dead", "lawn", "can you make the grass look dead?", "lawn", [], [[RC], [RS]], None, {}),
    ("question", "is-it-possible", "lake", "is it possible to move the boat to the left?", "lake", [], [[MV]], None, {}),
    ("audio", "add-sound-to", "yard bark:a", "add [bark] to [yard]", "yard", ["bark"], [[A]], None, {}),
]

EDITS_FIFTH_SITTING: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("one-attachment", "bare-thing-please", "garden", "a hat on the dog please", "garden", [], [[A]], None, {}),
    ("one-attachment", "bare-weather", "valley", "snow everywhere", "valley", [], [[RS], [A]], None, {}),
    ("one-attachment", "more-noun-in", "field", "more clouds in the sky", "field", [], [[A]], None, {}),
    ("one-attachment", "some-flying-over", "lake", "some birds flying over the lake", "lake", [], [[A]], None, {}),
    ("one-attachment", "bare-time-of-day", "plaza", "night time", "plaza", [], [[RS]], None, {}),
    ("one-attachment", "no-people", "beach", "no people", "beach", [], [[RM]], None, {}),
    ("one-attachment", "the-x-in-a-y", "pup", "the dog in a superhero cape", "pup", [], [[A]], None, {}),
    ("one-attachment", "exclaim-noun", "party", "balloons!", "party", [], [[A]], None, {}),
    ("one-attachment", "noun-vibes", "coast", "sunset vibes", "coast", [], [[RS]], None, {}),
    ("one-attachment", "over-the", "hills", "a rainbow over the hills", "hills", [], [[A]], None, {}),
    ("one-attachment", "everything-in-bw", "family", "everything in black and white", "family", [], [[RS]], None, {}),
    ("one-attachment", "same-but-at", "street", "same but at night", "street", [], [[RS]], None, {}),
    ("one-attachment", "season-colours", "park", "autumn colours", "park", [], [[RS]], None, {}),
    ("session", "plus-a", "last", "plus a moon", "last", [], [[A]], None, {"files": {}}),
    ("session", "now-with", "last", "now with a little boat on the water", "last", [], [[A]], None, {"files": {}}),
    ("session", "minus-the", "last", "minus the lamp post", "last", [], [[RM]], None, {"files": {}}),
]

EDITS_SIXTH_SITTING: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("one-attachment", "can-i-see-it-with", "meadow", "can I see it with a blue sky", "meadow", [], [[RC], [RS]], None, {}),
    ("one-attachment", "it-needs", "cabin", "it needs a sun", "cabin", [], [[A]], None, {}),
    ("one-attachment", "bare-light", "pier", "golden hour", "pier", [], [[RS]], None, {}),
    ("one-attachment", "out-of-the-shot", "alley", "get the bin out of the shot", "alley", [], [[RM]], None, {}),
    ("one-attachment", "noun-version", "square", "rainy day version", "square", [], [[RS]], None, {}),
    ("one-attachment", "less-adjective", "canal", "a bit less saturated", "canal", [], [[RS]], None, {}),
    ("one-attachment", "medium-please", "orchard", "watercolour please", "orchard", [], [[RS]], None, {}),
    ("one-attachment", "should-have-colour", "portrait", "the girl should have red hair", "portrait", [], [[RC]], None, {}),
    ("one-attachment", "shift-a-touch", "study", "shift the lamp a touch to the right", "study", [], [[MV]], None, {}),
    ("one-attachment", "take-out-the", "crowd", "take out the person in the background", "crowd", [], [[RM]], None, {}),
    ("one-attachment", "give-me-n-versions", "logo", "give me three versions", "logo", [], [[VA]], None, {}),
    ("one-attachment", "in-x-style", "bridge", "in van gogh style", "bridge", [], [[RS]], None, {}),
    ("one-attachment", "noun-comma-place", "rooftop", "a moon, upper right", "rooftop", [], [[A]], None, {}),
    ("session", "ok-now-lose", "last", "ok now lose the tree", "last", [], [[RM]], None, {"files": {}}),
    ("session", "more-like-a", "last", "more like a painting", "last", [], [[RS]], None, {"files": {}}),
    ("session", "nah-make-it", "last", "nah, make it daytime", "last", [], [[RS]], None, {"files": {}}),
    ("session", "put-one-there-too", "last", "put a boat there too", "last", [], [[A]], None, {"files": {}}),
    ("session", "hmm-should-be", "last", "hmm, the sky should be orange", "last", [], [[RC]], None, {"files": {}}),
    ("session", "use-this-as-style", "last monet", "use this as the style", "last", [], [[RS]], "monet", {"files": {"monet": "monet.jpg"}}),
    ("refs", "ref-sitting-on", "flat cat", "[cat] sitting on the windowsill of [flat]", "flat", ["cat"], [[A]], None, {}),
    ("clarify", "two-photos-bw", "left right", "make it black and white", None, [], [], None, {"clarify": ["left", "right"]}),
    ("compound", "and-pop", "room", "brighten the room and pop a plant in the corner", "room", [], [[RS, A]], None, {}),
    ("typo", "ad-teh", "lawn", "ad a dog on teh grass", "lawn", [], [[A]], None, {}),
    ("typo", "bluer-plz", "coast", "make the sky bluer plz", "coast", [], [[RC], [RS]], None, {}),
    ("question", "any-chance", "banner", "any chance you could remove the watermark?", "banner", [], [[RM]], None, {}),
    ("question", "would-it-be-possible", "villa", "would it be possible to make the house white?", "villa", [], [[RC]], None, {}),
]

EDITS_SEVENTH_SITTING: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("one-attachment", "id-prefer-in", "cabrio", "I'd prefer the car in red", "cabrio", [], [[RC]], None, {}),
    ("one-attachment", "more-plural", "skyline", "more fireworks in the sky", "skyline", [], [[A]], None, {}),
    ("one-attachment", "ditch-the", "selfie", "ditch the sunglasses", "selfie", [], [[RM]], None, {}),
    ("one-attachment", "there-shouldnt-be", "yard", "there shouldn't be a fence", "yard", [], [[RM]], None, {}),
    ("one-attachment", "can-we-get", "hills", "can we get a rainbow over the hills", "hills", [], [[A]], None, {}),
    ("one-attachment", "remark-swap-it", "sofa", "the cat looks weird, swap it for a dog", "sofa", [], [[RP]], None, {}),
    ("one-attachment", "draw-on", "king", "draw a crown on the king", "king", [], [[A]], None, {}),
    ("one-attachment", "feel-adjective", "cottage", "make it feel wintry", "cottage", [], [[RS]], None, {}),
    ("one-attachment", "rather-it-was", "harbour", "I'd rather it was sunny", "harbour", [], [[RS]], None, {}),
    ("one-attachment", "nudge", "shelf", "nudge the vase left a bit", "shelf", [], [[MV]], None, {}),
    ("one-attachment", "paint-the-x-colour", "garden", "paint the fence white", "garden", [], [[RC]], None, {}),
    ("one-attachment", "fix-the-colours", "holiday", "fix the colours, they look washed out", "holiday", [], [[RS], [RC]], None, {}),
    ("one-attachment", "bare-more", "lake", "more birds", "lake", [], [[A]], None, {}),
    ("one-attachment", "dont-want-any", "plaza", "I don't want any people in it", "plaza", [], [[RM]], None, {}),
    ("one-attachment", "turn-x-into-y", "porch", "turn the dog into a cat", "porch", [], [[RP]], None, {}),
    ("session", "and-a", "last", "and a kite in the sky", "last", [], [[A]], None, {"files": {}}),
    ("session", "try-it-as", "last", "try it as a pencil sketch", "last", [], [[RS]], None, {"files": {}}),
    ("session", "get-x-out", "last", "get the boat out", "last", [], [[RM]], None, {"files": {}}),
    ("session", "also-should-be", "last", "also the dog should be brown", "last", [], [[RC]], None, {"files": {}}),
    ("refs", "bare-ref-in", "forest owl", "[owl] on the branch in [forest]", "forest", ["owl"], [[A]], None, {}),
    ("refs", "swap-for-ref", "room mona", "swap the painting on the wall for [mona]", "room", ["mona"], [[RP]], None, {}),
    ("refs", "but-in-the-style", "kitchen vermeer", "[kitchen], but in the style of [vermeer]", "kitchen", [], [[RS]], "vermeer", {}),
    ("clarify", "two-photos-remove", "front back", "remove the car", None, [], [], None, {"clarify": ["front", "back"]}),
    ("compound", "remove-and-colour", "lounge", "remove the chair and make the walls blue", "lounge", [], [[RM, RC]], None, {}),
    ("typo", "remvoe", "avenue", "remvoe the lamp post", "avenue", [], [[RM]], None, {}),
    ("question", "could-you-add-to", "snowman", "could you add a hat to the snowman?", "snowman", [], [[A]], None, {}),
    ("audio", "sound-of-ref", "park birds:a", "add the sound of [birds] to [park]", "park", ["birds"], [[A]], None, {}),
]

EDITS_EIGHTH_SITTING: list[tuple[str, str, str, str, Any, list[str], list[list[str]], str | None, dict[str, Any]]] = [
    ("one-attachment", "things-along-the", "garden", "sunflowers along the fence", "garden", [], [[A]], None, {}),
    ("one-attachment", "a-thing-next-to-the", "desk", "a coffee mug next to the laptop", "desk", [], [[A]], None, {}),
    ("one-attachment", "bare-time-of-day", "beach", "sunset", "beach", [], [[RS]], None, {}),
    ("one-attachment", "look-older", "portrait", "make her look older", "portrait", [], [[RS]], None, {}),
    ("one-attachment", "in-the-middle-of-the", "field", "a scarecrow in the middle of the field", "field", [], [[A]], None, {}),
    ("one-attachment", "stuff-everywhere", "kids", "confetti everywhere", "kids", [], [[A], [RS]], None, {}),
    ("one-attachment", "plural-in-the", "table", "flowers in the vase", "table", [], [[A]], None, {}),
    ("one-attachment", "stuff-on-the-wall", "alley", "graffiti on the wall", "alley", [], [[A]], None, {}),
    ("one-attachment", "time-in-here", "bedroom", "night time in here", "bedroom", [], [[RS]], None, {}),
    ("one-attachment", "grazing-in-the-back", "meadow", "cows grazing in the back", "meadow", [], [[A]], None, {}),
    ("one-attachment", "bare-accessory", "selfie", "bunny ears", "selfie", [], [[A]], None, {}),
    ("session", "one-more", "last", "one more dog", "last", [], [[A]], None, {"files": {}}),
    ("session", "on-his-head", "last hat", "on his head", "last", ["hat"], [[A]], None, {"files": {"hat": "hat.png"}}),
    ("session", "sound-as-mood", "last waves:a", "let this set the mood", "last", [], [[RS]], "waves", {"files": {"waves": "waves.wav"}}),
    ("named-in-words", "the-x-one", "photo monet", "make the photo look like the monet", "photo", [], [[RS]], "monet", {"files": {"photo": "photo.jpg", "monet": "monet.jpg"}}),
    ("clarify", "two-photos-add", "cabin lake", "add a canoe", None, [], [], None, {"clarify": ["cabin", "lake"]}),
]

# (category, phrasing, instruction, counts, relations, refuse)
LAYOUTS: list[tuple[str, str, str, dict[str, int], list[list[str]], bool]] = [
    # -- left / right ------------------------------------------------------------------------------
    ("left-right", "on-the-left-and-right", "a red circle on the left and a blue square on the right", {"circle": 1, "square": 1}, [["circle", "left_of", "square"]], False),
    ("left-right", "on-the-left-and-right", "a star on the right and a ring on the left", {"star": 1, "ring": 1}, [["ring", "left_of", "star"]], False),
    ("left-right", "left-of", "a green triangle left of a yellow heart", {"triangle": 1, "heart": 1}, [["triangle", "left_of", "heart"]], False),
    ("left-right", "left-of", "a ball to the left of two boxes", {"ball": 1, "box": 2}, [["ball", "left_of", "box"]], False),
    ("left-right", "right-hand-side", "a rectangle on the right-hand side and a circle on the left-hand side", {"rectangle": 1, "circle": 1}, [["circle", "left_of", "rectangle"]], False),
    ("left-right", "right-hand-side", "two stars on the left hand side, one moon on the right hand side", {"star": 2, "moon": 1}, [["star", "left_of", "moon"]], False),
    ("left-right", "to-its-right", "a tree with a house to its right", {"tree": 1, "house": 1}, [["house", "right_of", "tree"]], False),
    ("left-right", "to-its-right", "a square with a purple circle to its left", {"square": 1, "circle": 1}, [["circle", "left_of", "square"]], False),
    # -- above / below / on top of -----------------------------------------------------------------
    ("vertical", "above", "a ball above a box", {"ball": 1, "box": 1}, [["ball", "above", "box"]], False),
    ("vertical", "above", "a yellow star above two red squares", {"star": 1, "square": 2}, [["star", "above", "square"]], False),
    ("vertical", "on-top-of", "a blue ball on top of a red box", {"ball": 1, "box": 1}, [["ball", "above", "box"]], False),
    ("vertical", "on-top-of", "three rings on top of a rectangle", {"ring": 3, "rectangle": 1}, [["ring", "above", "rectangle"]], False),
    ("vertical", "underneath", "a triangle underneath a circle", {"triangle": 1, "circle": 1}, [["triangle", "below", "circle"]], False),
    ("vertical", "underneath", "a cat underneath a table", {"cat": 1, "table": 1}, [["cat", "below", "table"]], False),
    ("vertical", "below", "a star below a circle", {"star": 1, "circle": 1}, [["star", "below", "circle"]], False),
    ("vertical", "below", "two hearts below a big square", {"heart": 2, "square": 1}, [["heart", "below", "square"]], False),
    ("vertical", "at-the-top-bottom", "a moon at the top and a box at the bottom", {"moon": 1, "box": 1}, [["moon", "above", "box"]], False),
    ("vertical", "at-the-top-bottom", "3 circles at the bottom, a star at the top", {"circle": 3, "star": 1}, [["star", "above", "circle"]], False),
    # -- between / next to / inside -------------------------------------------------------------
    ("between", "between-two", "a star between two rings", {"star": 1, "ring": 2}, [["star", "between", "ring", "ring"]], False),
    ("between", "between-two", "a ball between 2 boxes", {"ball": 1, "box": 2}, [["ball", "between", "box", "box"]], False),
    ("between", "between-a-and-b", "a circle between a square and a triangle", {"circle": 1, "square": 1, "triangle": 1}, [["circle", "between", "square", "triangle"]], False),
    ("between", "between-a-and-b", "a heart in between a star and a moon", {"heart": 1, "star": 1, "moon": 1}, [["heart", "between", "star", "moon"]], False),
    ("next-to", "next-to", "a ball next to a box", {"ball": 1, "box": 1}, [["ball", "next_to", "box"]], False),
    ("next-to", "next-to", "a blue square next to an orange circle", {"square": 1, "circle": 1}, [["square", "next_to", "circle"]], False),
    ("next-to", "beside", "a ring beside a heart", {"ring": 1, "heart": 1}, [["ring", "next_to", "heart"]], False),
    ("next-to", "beside", "two stars beside a moon", {"star": 2, "moon": 1}, [["star", "next_to", "moon"]], False),
    ("inside", "inside", "a circle inside a square", {"circle": 1, "square": 1}, [["circle", "inside", "square"]], False),
    ("inside", "inside", "a small ball inside a big box", {"ball": 1, "box": 1}, [["ball", "inside", "box"]], False),
    ("inside", "in-a", "a star in a ring", {"star": 1, "ring": 1}, [["star", "inside", "ring"]], False),
    ("inside", "in-a", "a yellow heart in a red circle", {"heart": 1, "circle": 1}, [["heart", "inside", "circle"]], False),
    # -- counts written as words and digits -------------------------------------------------------
    ("counts", "digits", "3 stars", {"star": 3}, [], False),
    ("counts", "digits", "7 small circles", {"circle": 7}, [], False),
    ("counts", "number-words", "five red balls", {"ball": 5}, [], False),
    ("counts", "number-words", "eight tiny squares", {"square": 8}, [], False),
    ("counts", "mixed-list", "two circles and 4 triangles", {"circle": 2, "triangle": 4}, [], False),
    ("counts", "mixed-list", "1 square, 2 stars and three rings", {"square": 1, "star": 2, "ring": 3}, [], False),
    ("counts", "pair-couple", "a pair of hearts", {"heart": 2}, [], False),
    ("counts", "pair-couple", "a couple of boxes and a ball", {"box": 2, "ball": 1}, [], False),
    ("counts", "dozen", "a dozen dots", {"dot": 12}, [], False),
    ("counts", "dozen", "half a dozen stars", {"star": 6}, [], False),
    # -- everyday requests for a picture with a layout ------------------------------------------
    ("request", "draw-me", "draw me a blue ball on top of a red box", {"ball": 1, "box": 1}, [["ball", "above", "box"]], False),
    ("request", "draw-me", "draw me three squares in a row", {"square": 3}, [], False),
    ("request", "i-want", "I want three circles on the left and a square on the right", {"circle": 3, "square": 1}, [["circle", "left_of", "square"]], False),
    ("request", "i-want", "i want a star above a house", {"star": 1, "house": 1}, [["star", "above", "house"]], False),
    ("request", "put-on-empty-canvas", "put a triangle under a circle", {"triangle": 1, "circle": 1}, [["triangle", "below", "circle"]], False),
    ("request", "put-on-empty-canvas", "place two rings next to a square", {"ring": 2, "square": 1}, [["ring", "next_to", "square"]], False),
    ("request", "could-you-make", "could you make a picture with a moon above two trees?", {"moon": 1, "tree": 2}, [["moon", "above", "tree"]], False),
    ("request", "could-you-make", "can you make an image of 4 balls below a star", {"ball": 4, "star": 1}, [["ball", "below", "star"]], False),
    ("request", "there-should-be", "there should be a circle on the left and two stars on the right", {"circle": 1, "star": 2}, [["circle", "left_of", "star"]], False),
    ("request", "there-should-be", "there should be a box under a ring", {"box": 1, "ring": 1}, [["box", "below", "ring"]], False),
    # -- must be refused with a reason ---------------------------------------------------------
    ("refuse", "contradiction", "a star above a moon and the moon above the star", {}, [], True),
    ("refuse", "contradiction", "a box left of a ball and the ball left of the box", {}, [], True),
    ("refuse", "too-many", "300 squares", {}, [], True),
    ("refuse", "too-many", "a thousand tiny circles in a grid", {}, [], True),
    ("refuse", "self-relation", "a circle to the left of itself", {}, [], True),
    ("refuse", "self-relation", "a ring above itself", {}, [], True),
    ("refuse", "between-one", "a star between a moon", {}, [], True),
    ("refuse", "between-one", "a heart in between one square", {}, [], True),
]

# Layout rows written after the held-out rows were frozen (issue 14, point 6), in wordings of
# their own: every one is a dev row, so adding them leaves the frozen held-out file unchanged.
LAYOUTS_AFTER_FREEZE: list[tuple[str, str, str, dict[str, int], list[list[str]], bool]] = [
    # -- put / place / imperative ---------------------------------------------------------------------
    ("request", "put-x-rel-y", "put a green triangle above two yellow circles", {"triangle": 1, "circle": 2}, [["triangle", "above", "circle"]], False),
    ("request", "put-x-rel-y", "put the circle to the left of the square", {"circle": 1, "square": 1}, [["circle", "left_of", "square"]], False),
    ("request", "put-x-rel-y", "place a box under the ball", {"box": 1, "ball": 1}, [["box", "below", "ball"]], False),
    ("request", "id-like", "I'd like a pair of rings under a star", {"ring": 2, "star": 1}, [["ring", "below", "star"]], False),
    ("request", "id-like", "i want 2 stars at the top and 3 squares at the bottom", {"star": 2, "square": 3}, [["star", "above", "square"]], False),
    ("request", "id-like", "I would like an ellipse next to a rectangle", {"ellipse": 1, "rectangle": 1}, [["ellipse", "next_to", "rectangle"]], False),
    ("request", "question", "can you draw two balls next to a box?", {"ball": 2, "box": 1}, [["ball", "next_to", "box"]], False),
    ("request", "question", "could you make a picture with a heart over a diamond?", {"heart": 1, "diamond": 1}, [["heart", "above", "diamond"]], False),
    ("request", "question", "can I get four rings around a star?", {"ring": 4, "star": 1}, [], False),
    ("request", "show-me", "show me three rings stacked on top of each other", {"ring": 3}, [], False),
    ("request", "show-me", "show me a dozen dots above a rectangle", {"dot": 12, "rectangle": 1}, [["dot", "above", "rectangle"]], False),
    ("request", "with-it", "could you draw a yellow star with two blue circles below it?", {"star": 1, "circle": 2}, [["circle", "below", "star"]], False),
    ("request", "with-it", "two boxes with a ball between them", {"box": 2, "ball": 1}, [["ball", "between", "box", "box"]], False),
    ("request", "with-it", "a big square with a small circle inside it", {"square": 1, "circle": 1}, [["circle", "inside", "square"]], False),
    # -- statements ---------------------------------------------------------------------------------
    ("statement", "participle", "a black cat sitting on top of a red box", {"cat": 1, "box": 1}, [["cat", "above", "box"]], False),
    ("statement", "participle", "a kite flying high above two trees", {"kite": 1, "tree": 2}, [["kite", "above", "tree"]], False),
    ("statement", "participle", "a ball sitting between a box and a ring", {"ball": 1, "box": 1, "ring": 1}, [["ball", "between", "box", "ring"]], False),
    ("statement", "is-are", "a triangle is above the circle", {"triangle": 1, "circle": 1}, [["triangle", "above", "circle"]], False),
    ("statement", "is-are", "there are two squares below a star", {"square": 2, "star": 1}, [["square", "below", "star"]], False),
    ("statement", "is-are", "the ball is under a table", {"ball": 1, "table": 1}, [["ball", "below", "table"]], False),
    ("statement", "on", "a cube on a table", {"cube": 1, "table": 1}, [["cube", "above", "table"]], False),
    # -- relations ----------------------------------------------------------------------------------
    ("relation", "diagonal", "a square to the upper left of a circle", {"square": 1, "circle": 1}, [["square", "above", "circle"], ["square", "left_of", "circle"]], False),
    ("relation", "diagonal", "a circle to the lower right of a star", {"circle": 1, "star": 1}, [["circle", "below", "star"], ["circle", "right_of", "star"]], False),
    ("relation", "bare-side", "a square right of a circle", {"square": 1, "circle": 1}, [["square", "right_of", "circle"]], False),
    ("relation", "bare-side", "a circle on the right side of a square", {"circle": 1, "square": 1}, [["circle", "right_of", "square"]], False),
    ("relation", "beneath-beside", "a triangle beneath a pair of stars", {"triangle": 1, "star": 2}, [["triangle", "below", "star"]], False),
    ("relation", "beneath-beside", "a couple of boxes beside a lamp", {"box": 2, "lamp": 1}, [["box", "next_to", "lamp"]], False),
    ("relation", "in", "a circle in a square", {"circle": 1, "square": 1}, [["circle", "inside", "square"]], False),
    ("relation", "depth", "a ball in front of a box", {"ball": 1, "box": 1}, [], False),
    ("relation", "depth", "a box behind a ball", {"box": 1, "ball": 1}, [], False),
    ("relation", "each-other", "a square and a circle next to each other", {"square": 1, "circle": 1}, [["square", "next_to", "circle"]], False),
    # -- several relations in one sentence ----------------------------------------------------------
    ("several", "shared-anchor", "a star left of a circle and a square right of the circle", {"star": 1, "circle": 1, "square": 1}, [["star", "left_of", "circle"], ["square", "right_of", "circle"]], False),
    ("several", "shared-anchor", "an ellipse below a triangle, and a star to the right of the triangle", {"ellipse": 1, "triangle": 1, "star": 1}, [["ellipse", "below", "triangle"], ["star", "right_of", "triangle"]], False),
    ("several", "shared-anchor", "a sun above a house and a dog next to the house", {"sun": 1, "house": 1, "dog": 1}, [["sun", "above", "house"], ["dog", "next_to", "house"]], False),
    ("several", "shared-anchor", "a dog to the right of a cat, a bird above the cat", {"dog": 1, "cat": 1, "bird": 1}, [["dog", "right_of", "cat"], ["bird", "above", "cat"]], False),
    ("several", "chain", "a circle above a square above a triangle", {"circle": 1, "square": 1, "triangle": 1}, [["circle", "above", "square"], ["square", "above", "triangle"]], False),
    ("several", "chain", "a star on top of a box on top of a ball", {"star": 1, "box": 1, "ball": 1}, [["star", "above", "box"], ["box", "above", "ball"]], False),
    ("several", "which", "a star next to a circle, which is above a square", {"star": 1, "circle": 1, "square": 1}, [["star", "next_to", "circle"], ["circle", "above", "square"]], False),
    ("several", "three-regions", "a blue rectangle on the left, a yellow ellipse in the middle and a red triangle on the right", {"rectangle": 1, "ellipse": 1, "triangle": 1}, [["rectangle", "left_of", "ellipse"], ["ellipse", "left_of", "triangle"]], False),
    ("several", "corners", "a star in the top left corner and a moon in the bottom right corner", {"star": 1, "moon": 1}, [["star", "above", "moon"], ["star", "left_of", "moon"]], False),
    ("several", "regions-counts", "a pair of squares on the right and a triangle on the left", {"square": 2, "triangle": 1}, [["triangle", "left_of", "square"]], False),
    # -- counts, plurals, lists -----------------------------------------------------------------------
    ("counts", "row", "three hearts in a row", {"heart": 3}, [], False),
    ("counts", "row", "a circle, a square and a triangle side by side", {"circle": 1, "square": 1, "triangle": 1}, [["circle", "next_to", "square"], ["square", "next_to", "triangle"]], False),
    ("counts", "same-noun-colours", "a red ball, a blue ball and a green box", {"ball": 2, "box": 1}, [], False),
    ("counts", "same-noun-colours", "a red circle and a blue circle above a square", {"circle": 2, "square": 1}, [["circle", "above", "square"]], False),
    ("counts", "bare", "draw 5 circles", {"circle": 5}, [], False),
    ("counts", "bare", "a lone triangle", {"triangle": 1}, [], False),
    ("counts", "bare", "a single square", {"square": 1}, [], False),
    ("counts", "lists", "4 squares and 2 triangles", {"square": 4, "triangle": 2}, [], False),
    ("counts", "lists", "eight stars and one moon", {"star": 8, "moon": 1}, [], False),
    ("counts", "lists", "seven balls plus a box", {"ball": 7, "box": 1}, [], False),
    ("counts", "phrases", "two dozen dots", {"dot": 24}, [], False),
    ("counts", "phrases", "a few circles under a rectangle", {"circle": 3, "rectangle": 1}, [["circle", "below", "rectangle"]], False),
    ("counts", "related-counts", "3 stars above 3 circles", {"star": 3, "circle": 3}, [["star", "above", "circle"]], False),
    ("counts", "related-counts", "six tiny squares below a big circle", {"square": 6, "circle": 1}, [["square", "below", "circle"]], False),
    # -- typos and casing -----------------------------------------------------------------------------
    ("noise", "typo", "two circels above a sqaure", {"circle": 2, "square": 1}, [["circle", "above", "square"]], False),
    ("noise", "typo", "a trianlge next too a star", {"triangle": 1, "star": 1}, [["triangle", "next_to", "star"]], False),
    ("noise", "casing", "Three Red Balls Below A Green Star", {"ball": 3, "star": 1}, [["ball", "below", "star"]], False),
    # -- refusals -----------------------------------------------------------------------------------
    ("refuse", "contradiction", "a ball above a box and below the box", {}, [], True),
    ("refuse", "contradiction", "a square inside a circle inside the square", {}, [], True),
    ("refuse", "dangling-relation", "a star above", {}, [], True),
    ("refuse", "dangling-relation", "two circles next to", {}, [], True),
    ("refuse", "too-many", "forty circles", {}, [], True),
    # -- second batch, written before the second round of reader changes ------------------------------
    ("with-bare", "with-on-top", "a square with a circle on top", {"square": 1, "circle": 1}, [["circle", "above", "square"]], False),
    ("with-bare", "with-on-top", "a cake with a candle on top", {"cake": 1, "candle": 1}, [["candle", "above", "cake"]], False),
    ("with-bare", "with-rel-end", "a box with a ball underneath", {"box": 1, "ball": 1}, [["ball", "below", "box"]], False),
    ("with-bare", "with-rel-end", "a house with a tree to the left", {"house": 1, "tree": 1}, [["tree", "left_of", "house"]], False),
    ("passive", "surrounded-by", "a big circle in the middle surrounded by four small squares", {"circle": 1, "square": 4}, [], False),
    ("passive", "flanked-by", "a door flanked by two windows", {"door": 1, "window": 2}, [["door", "between", "window", "window"]], False),
    ("passive", "containing", "a square containing a star", {"square": 1, "star": 1}, [["star", "inside", "square"]], False),
    ("group-noun", "a-row-of", "a row of five stars", {"star": 5}, [], False),
    ("group-noun", "a-row-of", "a stack of three boxes next to a ball", {"box": 3, "ball": 1}, [["box", "next_to", "ball"]], False),
    ("group-noun", "forming", "six dots forming a circle", {"dot": 6}, [], False),
    ("region-first", "region-comma", "on the left, a red circle; on the right, a blue square", {"circle": 1, "square": 1}, [["circle", "left_of", "square"]], False),
    ("region-first", "region-no-comma", "at the top a star and at the bottom two rings", {"star": 1, "ring": 2}, [["star", "above", "ring"]], False),
    ("region-first", "bare-region", "a circle left, a square right", {"circle": 1, "square": 1}, [["circle", "left_of", "square"]], False),
    ("region-first", "on-top-region", "a moon on top and a cube at the bottom", {"moon": 1, "cube": 1}, [["moon", "above", "cube"]], False),
    ("adverb", "directly", "a circle directly above a square", {"circle": 1, "square": 1}, [["circle", "above", "square"]], False),
    ("adverb", "directly", "a ring just to the left of a heart", {"ring": 1, "heart": 1}, [["ring", "left_of", "heart"]], False),
    ("its-side", "to-its-right", "a circle, and to its right a square", {"circle": 1, "square": 1}, [["square", "right_of", "circle"]], False),
    ("its-side", "to-its-right", "a tree with a dog to its left", {"tree": 1, "dog": 1}, [["dog", "left_of", "tree"]], False),
    ("pro-one", "a-blue-one", "a red circle above a blue one", {"circle": 2}, [], False),
    ("pro-one", "one-red-one-blue", "two squares, one red and one blue, below a star", {"square": 2, "star": 1}, [["square", "below", "star"]], False),
    ("pro-one", "both-colour", "a ball above a box, both green", {"ball": 1, "box": 1}, [["ball", "above", "box"]], False),
    ("sequence", "first-then", "first a circle, then a square, then a triangle", {"circle": 1, "square": 1, "triangle": 1}, [], False),
    ("bare-plural", "plural-no-count", "stars above a moon", {"moon": 1}, [["star", "above", "moon"]], False),
    ("request", "theres", "there's a ring under a box", {"ring": 1, "box": 1}, [["ring", "below", "box"]], False),
    ("request", "i-need", "I need two hearts beside a circle", {"heart": 2, "circle": 1}, [["heart", "next_to", "circle"]], False),
    ("refuse", "dangling-relation", "a cube and a ring to the left of", {}, [], True),
    # -- third batch, written before the third round of reader changes --------------------------------
    ("order", "from-left-to-right", "a circle, a square and a triangle from left to right", {"circle": 1, "square": 1, "triangle": 1}, [["circle", "left_of", "square"], ["square", "left_of", "triangle"]], False),
    ("order", "from-top-to-bottom", "a star, a moon and a sun from top to bottom", {"star": 1, "moon": 1, "sun": 1}, [["star", "above", "moon"], ["moon", "above", "sun"]], False),
    ("order", "x-above-y-below", "a circle above and a square below", {"circle": 1, "square": 1}, [["circle", "above", "square"]], False),
    ("either-side", "on-either-side-of", "two rings on either side of a star", {"ring": 2, "star": 1}, [["star", "between", "ring", "ring"]], False),
    ("either-side", "one-on-either-side", "a lamp on either side of a bed", {"lamp": 2, "bed": 1}, [["bed", "between", "lamp", "lamp"]], False),
    ("several", "two-sides-one-subject", "a box to the left of a ball and to the right of a ring", {"box": 1, "ball": 1, "ring": 1}, [["box", "left_of", "ball"], ["box", "right_of", "ring"]], False),
    ("several", "between-then-them", "a cross between two circles and a square below them", {"cross": 1, "circle": 2, "square": 1}, [["cross", "between", "circle", "circle"], ["square", "below", "circle"]], False),
    ("request", "id-love", "I'd love a picture of a moon above a tree", {"moon": 1, "tree": 1}, [["moon", "above", "tree"]], False),
    ("request", "make-count", "make three squares side by side", {"square": 3}, [], False),
    ("participle", "nested-tucked", "a circle nested inside a square", {"circle": 1, "square": 1}, [["circle", "inside", "square"]], False),
    ("participle", "nested-tucked", "a triangle tucked under a rectangle", {"triangle": 1, "rectangle": 1}, [["triangle", "below", "rectangle"]], False),
    ("passive", "encircling", "a ring encircling a star", {"ring": 1, "star": 1}, [["star", "inside", "ring"]], False),
    # -- fourth batch, written before the fourth round of reader changes ------------------------------
    ("several", "restated-anchor", "a star above a moon, a moon above a box", {"star": 1, "moon": 1, "box": 1}, [["star", "above", "moon"], ["moon", "above", "box"]], False),
    ("several", "its-both-sides", "a rectangle in the center, a circle to its left and a triangle to its right", {"rectangle": 1, "circle": 1, "triangle": 1}, [["circle", "left_of", "rectangle"], ["triangle", "right_of", "rectangle"]], False),
    ("several", "with-it-twice", "a square, with a circle above it and a triangle below it", {"square": 1, "circle": 1, "triangle": 1}, [["circle", "above", "square"], ["triangle", "below", "square"]], False),
    ("relation", "possessive-side", "a ball to the box's left", {"ball": 1, "box": 1}, [["ball", "left_of", "box"]], False),
    ("either-side", "at-the-sides", "a ring in the middle and two stars at the sides", {"ring": 1, "star": 2}, [["ring", "between", "star", "star"]], False),
    ("participle", "scattered", "four stars scattered around a moon", {"star": 4, "moon": 1}, [], False),
    ("request", "give-me", "give me a circle above a square", {"circle": 1, "square": 1}, [["circle", "above", "square"]], False),
    ("request", "like-to-see", "I'd like to see two squares next to a circle", {"square": 2, "circle": 1}, [["square", "next_to", "circle"]], False),
]
# fmt: on


def _assets(spec: str) -> dict[str, str]:
    table = {}
    for item in spec.split():
        name, _, kind = item.partition(":")
        table[name] = "audio" if kind == "a" else "image"
    return table


def _split(rows: list[tuple[Any, ...]]) -> tuple[list[int], list[int]]:
    """Indices of dev and held-out rows: the k-th distinct phrasing of each category is held out
    when k % 5 is 1 or 3."""
    seen: dict[str, list[str]] = {}
    dev, held = [], []
    for index, (category, phrasing, *_) in enumerate(rows):
        order = seen.setdefault(category, [])
        if phrasing not in order:
            order.append(phrasing)
        (held if order.index(phrasing) % 5 in (1, 3) else dev).append(index)
    return dev, held


def edit_rows() -> list[dict[str, Any]]:
    """EDITS' rows (ids v001...), then the rows written after the freeze (ids va001...)."""
    rows = []
    numbered = [(f"v{i:03d}", spec) for i, spec in enumerate(EDITS, 1)]
    numbered += [(f"va{i:03d}", spec) for i, spec in enumerate(EDITS_AFTER_FREEZE, 1)]
    numbered += [(f"vb{i:03d}", spec) for i, spec in enumerate(EDITS_THIRD_SITTING, 1)]
    numbered += [(f"vc{i:03d}", spec) for i, spec in enumerate(EDITS_FOURTH_SITTING, 1)]
    numbered += [(f"vd{i:03d}", spec) for i, spec in enumerate(EDITS_FIFTH_SITTING, 1)]
    numbered += [(f"ve{i:03d}", spec) for i, spec in enumerate(EDITS_SIXTH_SITTING, 1)]
    numbered += [(f"vf{i:03d}", spec) for i, spec in enumerate(EDITS_SEVENTH_SITTING, 1)]
    numbered += [(f"vg{i:03d}", spec) for i, spec in enumerate(EDITS_EIGHTH_SITTING, 1)]
    for row_id, (category, phrasing, assets, text, base, subs, ops_any, style, extra) in numbered:
        row: dict[str, Any] = {"id": row_id, "category": category, "phrasing": phrasing}
        row.update(assets=_assets(assets), instruction=text, base=base, subs=subs)
        row.update(ops_any=ops_any, style_ref=style, **extra)
        rows.append(row)
    return rows


def layout_rows() -> list[dict[str, Any]]:
    """LAYOUTS' rows (ids y001...), then the rows written after the freeze (ids ya001...)."""
    rows = []
    numbered = [(f"y{i:03d}", spec) for i, spec in enumerate(LAYOUTS, 1)]
    numbered += [(f"ya{i:03d}", spec) for i, spec in enumerate(LAYOUTS_AFTER_FREEZE, 1)]
    for row_id, (category, phrasing, text, counts, relations, refuse) in numbered:
        row: dict[str, Any] = {"id": row_id, "category": category, "phrasing": phrasing}
        row.update(instruction=text, counts=counts, relations=relations)
        if refuse:
            row["refuse"] = True
        rows.append(row)
    return rows


def _kept(path: Path, rows: list[dict[str, Any]]) -> str:
    """The lines of ``path`` whose row ids this script does not write (later sittings' rows)."""
    if not path.exists():
        return ""
    ours = {row["id"] for row in rows}
    lines = path.read_text().splitlines(keepends=True)
    return "".join(line for line in lines if json.loads(line)["id"] not in ours)


def _lines(rows: list[dict[str, Any]], indices: list[int]) -> str:
    return "".join(json.dumps(rows[i]) + "\n" for i in indices)


def main() -> int:
    status = 0
    for rows, source, dev_path, held_path in (
        (edit_rows(), EDITS, EDIT_DEV, EDIT_HELD),
        (layout_rows(), LAYOUTS, LAYOUT_DEV, LAYOUT_HELD),
    ):
        dev, held = _split(source)
        dev += range(len(source), len(rows))  # rows written after the freeze are all dev
        dev_path.write_text(_lines(rows, dev) + _kept(dev_path, rows))
        frozen = _lines(rows, held)
        if not held_path.exists():
            held_path.write_text(frozen)
        elif held_path.read_text() != frozen:
            print(
                f"{held_path.name} is frozen and differs from this script's rows", file=sys.stderr
            )
            status = 1
        print(f"{dev_path.name}: {len(dev)} rows, {held_path.name}: {len(held)} rows")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
