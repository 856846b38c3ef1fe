"""Writes planner-edit.jsonl: hand-written edit instructions with the plan each should yield.

Rows are (assets, instruction, base, subs, ops_any, style_ref); assets "photo dog:a" means an
image named photo and an audio clip named dog. Wording is deliberately varied: canonical forms,
paraphrases, polite requests, compounds, pronouns and some forms the fast path does not read.
Run: python benchmarks/data/make_edit_set.py
"""

import json
from pathlib import Path

# fmt: off
R = [
    # -- add -------------------------------------------------------------------------------------
    ("photo dog", "add [dog] to [photo]", "photo", ["dog"], [["add"]], None),
    ("pic cat", "insert [cat] into [pic]", "pic", ["cat"], [["add"]], None),
    ("room lamp", "put [lamp] in [room] next to the sofa", "room", ["lamp"], [["add"]], None),
    ("park kid", "place [kid] on the bench in [park]", "park", ["kid"], [["add"]], None),
    ("garden gnome", "please add [gnome] to [garden] on the left", "garden", ["gnome"], [["add"]], None),
    ("beach boat", "add [boat] to [beach] in the top right corner", "beach", ["boat"], [["add"]], None),
    ("sky", "add a rainbow to [sky]", "sky", [], [["add"]], None),
    ("street", "add two pigeons to [street]", "street", [], [["add"]], None),
    ("table", "put a vase of tulips on the table in [table]", "table", [], [["add"]], None),
    ("kitchen cat", "can you add [cat] to [kitchen]?", "kitchen", ["cat"], [["add"]], None),
    ("lake swan duck", "add [swan] and [duck] to [lake]", "lake", ["swan", "duck"], [["add", "add"]], None),
    ("field horse cow sheep", "add [horse], [cow] and [sheep] to [field]", "field", ["horse", "cow", "sheep"], [["add", "add", "add"]], None),
    ("forest rain:a", "add [rain] to [forest]", "forest", ["rain"], [["add"]], None),
    ("city siren:a", "add [siren] to [city]", "city", ["siren"], [["add"]], None),
    ("portrait glasses", "put [glasses] on the man in [portrait]", "portrait", ["glasses"], [["add"]], None),
    ("desk", "add a coffee mug to [desk] on the right", "desk", [], [["add"]], None),
    ("shelf", "include a potted plant in [shelf]", "shelf", [], [["add"]], None),
    ("snow", "add a snowman to [snow] in the middle", "snow", [], [["add"]], None),
    ("wall clock", "hang the clock from [clock] on the wall in [wall]", "wall", ["clock"], [["add"]], None),
    ("pond frogs:a", "I'd like you to add [frogs] to [pond]", "pond", ["frogs"], [["add"]], None),
    ("yard", "add a red balloon to [yard]", "yard", [], [["add"]], None),
    ("scene moon", "insert [moon] in the sky of [scene]", "scene", ["moon"], [["add"]], None),
    ("bed pup", "place [pup] on the bed in [bed]", "bed", ["pup"], [["add"]], None),
    ("photo", "add a hat to the dog in [photo]", "photo", [], [["add"]], None),
    ("shore crab", "Add [crab] to [shore].", "shore", ["crab"], [["add"]], None),
    # -- remove ----------------------------------------------------------------------------------
    ("beach", "remove the umbrella from [beach]", "beach", [], [["remove"]], None),
    ("street", "erase the car from [street]", "street", [], [["remove"]], None),
    ("office", "delete the chair in [office]", "office", [], [["remove"]], None),
    ("selfie", "get rid of the photobomber in [selfie]", "selfie", [], [["remove"]], None),
    ("lawn", "take the hose out of [lawn]", "lawn", [], [["remove"]], None),
    ("park", "remove the people and the bikes from [park]", "park", [], [["remove", "remove"]], None),
    ("desk", "remove the pen, the cup and the phone from [desk]", "desk", [], [["remove", "remove", "remove"]], None),
    ("sky", "remove the power lines from [sky]", "sky", [], [["remove"]], None),
    ("photo", "please remove the watermark from [photo]", "photo", [], [["remove"]], None),
    ("room", "remove the clutter in [room]", "room", [], [["remove"]], None),
    ("harbor", "eliminate the boats from [harbor]", "harbor", [], [["remove"]], None),
    ("field", "erase the fence in [field]", "field", [], [["remove"]], None),
    ("pic", "Could you remove the cat from [pic]?", "pic", [], [["remove"]], None),
    ("photo", "remove the tourists", "photo", [], [["remove"]], None),
    ("img", "delete the text from [img]", "img", [], [["remove"]], None),
    ("wall", "get rid of the graffiti on [wall]", "wall", [], [["remove"]], None),
    ("garden", "remove all the weeds from [garden]", "garden", [], [["remove"]], None),
    ("car", "remove the dent from the door in [car]", "car", [], [["remove"]], None),
    # -- replace ---------------------------------------------------------------------------------
    ("office plant", "replace the trash can in [office] with [plant]", "office", ["plant"], [["replace"]], None),
    ("room", "replace the carpet in [room] with a wooden floor", "room", [], [["replace"]], None),
    ("a b", "swap the car in [a] for the car in [b]", "a", ["b"], [["replace"]], None),
    ("table vase", "replace the bottle on [table] with [vase]", "table", ["vase"], [["replace"]], None),
    ("photo", "replace the sky of [photo] with a sunset", "photo", [], [["replace"]], None),
    ("kids ball", "swap the frisbee in [kids] with [ball]", "kids", ["ball"], [["replace"]], None),
    ("street", "replace the bus in [street] with a tram", "street", [], [["replace"]], None),
    ("portrait", "turn the cat in [portrait] into a fox", "portrait", [], [["replace"]], None),
    ("living sofa", "swap out the couch in [living] for [sofa]", "living", ["sofa"], [["replace"]], None),
    ("farm", "change the tractor in [farm] into a horse cart", "farm", [], [["replace"]], None),
    ("menu pizza", "substitute [pizza] for the burger in [menu]", "menu", ["pizza"], [["replace"]], None),
    ("hall rug", "replace the tiles of [hall] with the pattern of [rug]", "hall", ["rug"], [["replace"]], None),
    ("shop", "exchange the sign in [shop] for a neon sign", "shop", [], [["replace"]], None),
    ("yard dog", "use [dog] instead of the cat in [yard]", "yard", ["dog"], [["replace"]], None),
    ("wall art", "swap the poster in [wall] with [art]", "wall", ["art"], [["replace"]], None),
    # -- restyle ---------------------------------------------------------------------------------
    ("house klimt", "paint [house] in the style of [klimt]", "house", [], [["restyle"]], "klimt"),
    ("harbor jazz:a", "make [harbor] feel like [jazz]", "harbor", [], [["restyle"]], "jazz"),
    ("p1 p2", "use the lighting of [p2] on [p1]", "p1", [], [["restyle"]], "p2"),
    ("city monet", "render [city] like [monet]", "city", [], [["restyle"]], "monet"),
    ("dog vg", "make [dog] look like [vg]", "dog", [], [["restyle"]], "vg"),
    ("bridge ukiyo", "restyle [bridge] in the style of [ukiyo]", "bridge", [], [["restyle"]], "ukiyo"),
    ("photo sketch", "give [photo] the look of [sketch]", "photo", [], [["restyle"]], "sketch"),
    ("cafe rain:a", "make [cafe] sound like [rain]", "cafe", [], [["restyle"]], "rain"),
    ("street noir", "apply the mood of [noir] to [street]", "street", [], [["restyle"]], "noir"),
    ("photo", "turn [photo] into a watercolor painting", "photo", [], [["restyle"]], None),
    ("pic", "make [pic] look like an oil painting", "pic", [], [["restyle"]], None),
    ("castle", "render [castle] as a pencil sketch", "castle", [], [["restyle"]], None),
    ("town", "make [town] wintery", "town", [], [["restyle"]], None),
    ("beach", "make it night in [beach]", "beach", [], [["restyle"]], None),
    ("garden storm", "make [garden] look stormy, like [storm]", "garden", [], [["restyle"]], "storm"),
    ("lake hokusai", "redraw [lake] in [hokusai]'s style", "lake", [], [["restyle"]], "hokusai"),
    ("car", "convert [car] into a cartoon", "car", [], [["restyle"]], None),
    ("forest", "make [forest] look like autumn", "forest", [], [["restyle"]], None),
    ("face pop", "stylize [face] with the colors of [pop]", "face", [], [["restyle"]], "pop"),
    ("room wind:a", "make [room] feel like the sound of [wind]", "room", [], [["restyle"]], "wind"),
    ("field", "make [field] look foggy", "field", [], [["restyle"]], None),
    ("skyline vaporwave", "transfer the palette of [vaporwave] to [skyline]", "skyline", [], [["restyle"]], "vaporwave"),
    ("dog", "make [dog] look like a van gogh painting", "dog", [], [["restyle"]], None),
    ("photo ref", "I want [photo] to have the style of [ref]", "photo", [], [["restyle"]], "ref"),
    ("photo ref", "[photo] in the style of [ref]", "photo", [], [["restyle"]], "ref"),
    # -- recolor ---------------------------------------------------------------------------------
    ("jacket", "make the jacket in [jacket] dark green", "jacket", [], [["recolor"]], None),
    ("bowl", "turn the bowl in [bowl] blue", "bowl", [], [["recolor"]], None),
    ("car", "paint the car in [car] bright red", "car", [], [["recolor"]], None),
    ("door", "color the door in [door] yellow", "door", [], [["recolor"]], None),
    ("shirt", "change the color of the shirt in [shirt] to white", "shirt", [], [["recolor"]], None),
    ("hair", "make her hair in [hair] pink", "hair", [], [["recolor"]], None),
    ("bike", "recolor the bike in [bike] to navy blue", "bike", [], [["recolor"]], None),
    ("house", "make the roof of [house] red", "house", [], [["recolor"]], None),
    ("kitchen", "make the cabinets in [kitchen] light gray", "kitchen", [], [["recolor"]], None),
    ("flowers", "turn the tulips in [flowers] purple", "flowers", [], [["recolor"]], None),
    ("shoes", "dye the sneakers in [shoes] black", "shoes", [], [["recolor"]], None),
    ("sky", "make the sky in [sky] orange", "sky", [], [["recolor"]], None),
    ("mug", "tint the mug in [mug] teal", "mug", [], [["recolor"]], None),
    ("boat", "change the sail of [boat] to crimson", "boat", [], [["recolor"]], None),
    ("photo", "make it black and white", "photo", [], [["recolor"], ["restyle"]], None),
    # -- move ------------------------------------------------------------------------------------
    ("yard", "move the swing in [yard] to the right", "yard", [], [["move"]], None),
    ("room", "move the lamp in [room] to the left", "room", [], [["move"]], None),
    ("desk", "shift the laptop in [desk] up a bit", "desk", [], [["move"]], None),
    ("beach", "move the towel in [beach] closer to the water", "beach", [], [["move"]], None),
    ("shelf", "slide the books in [shelf] to the left side", "shelf", [], [["move"]], None),
    ("photo", "move the cat in [photo] to the bottom left corner", "photo", [], [["move"]], None),
    ("park", "drag the bench in [park] towards the tree", "park", [], [["move"]], None),
    ("poster", "move the title in [poster] to the top", "poster", [], [["move"]], None),
    ("field", "nudge the horse in [field] slightly to the right", "field", [], [["move"]], None),
    ("table", "move the candle on [table] to the center", "table", [], [["move"]], None),
    # -- variation -------------------------------------------------------------------------------
    ("logo", "make a variation of [logo]", "logo", [], [["variation"]], None),
    ("sketch", "variations of [sketch]", "sketch", [], [["variation"]], None),
    ("photo", "give me another version of [photo]", "photo", [], [["variation"]], None),
    ("art", "remix [art]", "art", [], [["variation"]], None),
    ("poster", "make some variations on [poster]", "poster", [], [["variation"]], None),
    # -- generate --------------------------------------------------------------------------------
    ("meadow2 birds2:a", "add [birds2] to [meadow2]", "meadow2", ["birds2"], [["add"]], None),
    ("", "a lighthouse in a storm, oil painting", None, [], [["generate"]], None),
    ("ref", "draw a teapot in the style of [ref]", None, [], [["generate"]], "ref"),
    ("s", "a snowy village, same style as [s]", None, [], [["generate"]], "s"),
    ("", "generate a cat wearing sunglasses", None, [], [["generate"]], None),
    ("", "create an image of a futuristic city at night", None, [], [["generate"]], None),
    ("", "a bowl of ramen on a wooden table", None, [], [["generate"]], None),
    ("", "show me a dragon flying over mountains", None, [], [["generate"]], None),
    ("", "paint a sunset over the ocean", None, [], [["generate"]], None),
    ("", "an astronaut riding a horse", None, [], [["generate"]], None),
    ("monet", "a garden with water lilies like [monet]", None, [], [["generate"]], "monet"),
    ("dog", "[dog] on a skateboard", None, ["dog"], [["generate"]], None),
    ("", "Make a picture of three red apples", None, [], [["generate"]], None),
    ("", "sketch a robot reading a book", None, [], [["generate"]], None),
    ("kid", "draw [kid] as a superhero", None, ["kid"], [["generate"]], None),
    ("vibe", "a rainy street inspired by [vibe]", None, [], [["generate"]], "vibe"),
    ("", "imagine a castle made of candy", None, [], [["generate"]], None),
    ("ocean:a", "a picture that sounds like [ocean]", None, [], [["generate"]], "ocean"),
    ("", "two cats sleeping on a sofa", None, [], [["generate"]], None),
    ("", "design a logo for a coffee shop", None, [], [["generate"]], None),
    ("cat hat", "[cat] wearing [hat] in a park", None, ["cat", "hat"], [["generate"]], None),
    # -- compounds -------------------------------------------------------------------------------
    ("street bike", "add [bike] to [street] and remove the trash bags", "street", ["bike"], [["add", "remove"]], None),
    ("valley cabin hokusai", "add [cabin] to [valley] and make it look like [hokusai]", "valley", ["cabin"], [["add", "restyle"]], "hokusai"),
    ("wall", "move the painting in [wall] down a bit and make the frame gold", "wall", [], [["move", "recolor"]], None),
    ("woods owl:a", "add [owl] to [woods] and make it dusk", "woods", ["owl"], [["add", "restyle"], ["add", "recolor"]], None),
    ("photo dog monet", "add [dog] to [photo], put it on the left, and paint everything like [monet]", "photo", ["dog"], [["add", "restyle"]], "monet"),
    ("room", "remove the chair from [room], then paint the walls light blue", "room", [], [["remove", "recolor"]], None),
    ("beach kite", "add [kite] to [beach] and remove the people", "beach", ["kite"], [["add", "remove"]], None),
    ("farm pig vg", "add [pig] to [farm] in the style of [vg]", "farm", ["pig"], [["add", "restyle"]], "vg"),
    ("desk", "remove the cables from [desk] and move the monitor to the left", "desk", [], [["remove", "move"]], None),
    ("car", "make the car in [car] red and remove the license plate", "car", [], [["recolor", "remove"]], None),
    ("garden bird song:a", "add [bird] to [garden] and make it feel like [song]", "garden", ["bird"], [["add", "restyle"]], "song"),
    ("kitchen cat dog", "add [cat] to [kitchen], then add [dog] as well", "kitchen", ["cat", "dog"], [["add", "add"]], None),
    ("office plant", "replace the bin in [office] with [plant] and make the walls white", "office", ["plant"], [["replace", "recolor"]], None),
    ("city", "remove the cars from [city]; make it look like an old postcard", "city", [], [["remove", "restyle"]], None),
    ("park", "erase the bench in [park] and add a fountain", "park", [], [["remove", "add"]], None),
    ("pic goat", "put [goat] in [pic] on the right and remove the fence", "pic", ["goat"], [["add", "remove"]], None),
    ("lake ref", "remove the dock from [lake], add a rowboat, and match the colors of [ref]", "lake", [], [["remove", "add", "restyle"]], "ref"),
    ("shop", "replace the sign in [shop] with a wooden one and turn the door green", "shop", [], [["replace", "recolor"]], None),
    ("photo", "move the vase in [photo] to the right then remove the book", "photo", [], [["move", "remove"]], None),
    ("hill sheep", "add [sheep] to [hill] and then move it to the bottom left", "hill", ["sheep"], [["add"], ["add", "move"]], None),
    # -- harder paraphrases ----------------------------------------------------------------------
    ("photo dog", "I want [dog] in [photo]", "photo", ["dog"], [["add"]], None),
    ("meadow birds:a", "let's hear [birds] in [meadow] — put them in the picture", "meadow", ["birds"], [["add"]], None),
    ("bedroom", "there should be no lamp in [bedroom]", "bedroom", [], [["remove"]], None),
    ("photo sky", "[photo] but with the sky from [sky]", "photo", ["sky"], [["replace"], ["add"]], None),
    ("room", "can the sofa in [room] be green?", "room", [], [["recolor"]], None),
    ("street", "[street] without the cars", "street", [], [["remove"]], None),
    ("a mood", "give [a] a vibe like [mood]", "a", [], [["restyle"]], "mood"),
    ("img", "the dog in [img] should be on the left", "img", [], [["move"]], None),
    ("pic", "I don't want the trash can in [pic]", "pic", [], [["remove"]], None),
    ("photo cat", "swap places: put [cat] where the dog is in [photo]", "photo", ["cat"], [["replace"], ["add"]], None),
]
# fmt: on


def main() -> None:
    out = Path(__file__).with_name("planner-edit.jsonl")
    with out.open("w") as handle:
        for index, (assets, text, base, subs, ops_any, style) in enumerate(R, 1):
            table = {}
            for item in assets.split():
                name, _, kind = item.partition(":")
                table[name] = "audio" if kind == "a" else "image"
            row = {
                "id": f"e{index:03d}",
                "assets": table,
                "instruction": text,
                "base": base,
                "subs": subs,
                "ops_any": ops_any,
                "style_ref": style,
            }
            handle.write(json.dumps(row) + "\n")
    print(f"{len(R)} rows -> {out}")


if __name__ == "__main__":
    main()
