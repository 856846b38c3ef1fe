"""Writes layout.jsonl: scene descriptions with the object counts and spatial relations a layout
must respect. Relations: [a, left_of|right_of|above|below, b] or [a, between, b, c] (a lies
between b and c on either axis). Counts name objects by singular head noun.
Run: python benchmarks/data/make_layout_set.py
"""

import json
from pathlib import Path

# fmt: off
R = [
    ("a dog on the left and a cat on the right", {"dog": 1, "cat": 1}, [["dog", "left_of", "cat"]]),
    ("two oranges on a plate", {"orange": 2}, []),
    ("a sun above a house", {"sun": 1, "house": 1}, [["sun", "above", "house"]]),
    ("three balloons over a boy", {"balloon": 3, "boy": 1}, [["balloon", "above", "boy"]]),
    ("a chair to the right of a table", {"chair": 1, "table": 1}, [["chair", "right_of", "table"]]),
    ("a fish below a boat", {"fish": 1, "boat": 1}, [["fish", "below", "boat"]]),
    ("four trees in a row", {"tree": 4}, []),
    ("a red car left of a blue truck", {"car": 1, "truck": 1}, [["car", "left_of", "truck"]]),
    ("five apples", {"apple": 5}, []),
    ("a cup between two books", {"cup": 1, "book": 2}, []),
    ("a lamp between a sofa and a plant", {"lamp": 1, "sofa": 1, "plant": 1}, [["lamp", "between", "sofa", "plant"]]),
    ("an owl above a fox", {"owl": 1, "fox": 1}, [["owl", "above", "fox"]]),
    ("a mouse under a table", {"mouse": 1, "table": 1}, [["mouse", "below", "table"]]),
    ("two horses and a cow", {"horse": 2, "cow": 1}, []),
    ("a girl to the left of a bicycle", {"girl": 1, "bicycle": 1}, [["girl", "left_of", "bicycle"]]),
    ("a cat sitting beneath a window", {"cat": 1, "window": 1}, [["cat", "below", "window"]]),
    ("three ducks on a pond", {"duck": 3}, []),
    ("a clock above a fireplace", {"clock": 1, "fireplace": 1}, [["clock", "above", "fireplace"]]),
    ("a rocket on the right and a planet on the left", {"rocket": 1, "planet": 1}, [["planet", "left_of", "rocket"]]),
    ("six eggs in a carton", {"egg": 6}, []),
    ("a penguin right of an igloo", {"penguin": 1, "igloo": 1}, [["penguin", "right_of", "igloo"]]),
    ("two candles beside a cake", {"candle": 2, "cake": 1}, []),
    ("a bird on top of a fence post", {"bird": 1, "post": 1}, [["bird", "above", "post"]]),
    ("a tent under the stars, with a campfire on the left", {"tent": 1, "campfire": 1}, []),
    ("a guitar to the left of a piano", {"guitar": 1, "piano": 1}, [["guitar", "left_of", "piano"]]),
    ("three cats and two dogs", {"cat": 3, "dog": 2}, []),
    ("a kite flying above a tree", {"kite": 1, "tree": 1}, [["kite", "above", "tree"]]),
    ("a snail below a leaf", {"snail": 1, "leaf": 1}, [["snail", "below", "leaf"]]),
    ("a tower between two houses", {"tower": 1, "house": 2}, []),
    ("a pair of shoes under a bed", {"shoe": 2, "bed": 1}, [["shoe", "below", "bed"]]),
    ("a moon over the sea and a ship on the right", {"moon": 1, "ship": 1}, []),
    ("four chairs around a table", {"chair": 4, "table": 1}, []),
    ("a bear to the right of a river rock", {"bear": 1, "rock": 1}, [["bear", "right_of", "rock"]]),
    ("two swans", {"swan": 2}, []),
    ("a vase with flowers to the left of a bowl of fruit", {"vase": 1, "bowl": 1}, [["vase", "left_of", "bowl"]]),
    ("a plane above the clouds over a city", {"plane": 1}, []),
    ("an apple above a banana", {"apple": 1, "banana": 1}, [["apple", "above", "banana"]]),
    ("three mushrooms under a tree", {"mushroom": 3, "tree": 1}, [["mushroom", "below", "tree"]]),
    ("a lion on the left, a zebra on the right", {"lion": 1, "zebra": 1}, [["lion", "left_of", "zebra"]]),
    ("seven stars", {"star": 7}, []),
    ("a teapot right of two teacups", {"teapot": 1, "teacup": 2}, [["teapot", "right_of", "teacup"]]),
    ("a frog below a lily", {"frog": 1, "lily": 1}, [["frog", "below", "lily"]]),
    ("a boy between a dog and a cat", {"boy": 1, "dog": 1, "cat": 1}, [["boy", "between", "dog", "cat"]]),
    ("a lamp post to the left of a bench", {"post": 1, "bench": 1}, [["post", "left_of", "bench"]]),
    ("a hot air balloon above a lake", {"balloon": 1}, []),
    ("two pigs in a field", {"pig": 2}, []),
    ("a bookshelf to the right of a desk", {"bookshelf": 1, "desk": 1}, [["bookshelf", "right_of", "desk"]]),
    ("an eagle over a mountain", {"eagle": 1, "mountain": 1}, [["eagle", "above", "mountain"]]),
    ("a crab under a starfish", {"crab": 1, "starfish": 1}, [["crab", "below", "starfish"]]),
    ("three bottles and a glass", {"bottle": 3, "glass": 1}, []),
    ("a tiger at the left of a palm tree", {"tiger": 1, "tree": 1}, [["tiger", "left_of", "tree"]]),
    ("a butterfly above a flower", {"butterfly": 1, "flower": 1}, [["butterfly", "above", "flower"]]),
    ("a car between two trucks", {"car": 1, "truck": 2}, []),
    ("eight balloons", {"balloon": 8}, []),
    ("a fox to the right of a rabbit", {"fox": 1, "rabbit": 1}, [["fox", "right_of", "rabbit"]]),
    ("a lantern hanging above a door", {"lantern": 1, "door": 1}, [["lantern", "above", "door"]]),
    ("a turtle beneath a boat", {"turtle": 1, "boat": 1}, [["turtle", "below", "boat"]]),
    ("two kids on the left and a teacher on the right", {"kid": 2, "teacher": 1}, [["kid", "left_of", "teacher"]]),
    ("a cactus to the left of a cow skull", {"cactus": 1, "skull": 1}, [["cactus", "left_of", "skull"]]),
    ("a television above a cabinet", {"television": 1, "cabinet": 1}, [["television", "above", "cabinet"]]),
    ("four cupcakes", {"cupcake": 4}, []),
    ("a sheep between two wolves", {"sheep": 1, "wolf": 2}, []),
    ("a violin right of a cello", {"violin": 1, "cello": 1}, [["violin", "right_of", "cello"]]),
    ("a rainbow above three houses", {"rainbow": 1, "house": 3}, [["rainbow", "above", "house"]]),
    ("a laptop on the left and a coffee mug on the right", {"laptop": 1, "mug": 1}, [["laptop", "left_of", "mug"]]),
    ("nine marbles", {"marble": 9}, []),
    ("a giraffe to the left of an elephant", {"giraffe": 1, "elephant": 1}, [["giraffe", "left_of", "elephant"]]),
    ("two owls above a fox", {"owl": 2, "fox": 1}, [["owl", "above", "fox"]]),
    ("a bicycle below a window", {"bicycle": 1, "window": 1}, [["bicycle", "below", "window"]]),
    ("three pears and two plums", {"pear": 3, "plum": 2}, []),
    ("a fountain between two benches", {"fountain": 1, "bench": 2}, []),
    ("a hat to the right of a scarf", {"hat": 1, "scarf": 1}, [["hat", "right_of", "scarf"]]),
    ("a balloon on the left and a kite on the right", {"balloon": 1, "kite": 1}, [["balloon", "left_of", "kite"]]),
    ("a pot between a spoon and a knife", {"pot": 1, "spoon": 1, "knife": 1}, [["pot", "between", "spoon", "knife"]]),
    ("ten coins", {"coin": 10}, []),
    ("a parrot perched above a monkey", {"parrot": 1, "monkey": 1}, [["parrot", "above", "monkey"]]),
]
# fmt: on


def main() -> None:
    out = Path(__file__).with_name("layout.jsonl")
    with out.open("w") as handle:
        for index, (text, counts, relations) in enumerate(R, 1):
            row = {
                "id": f"l{index:03d}",
                "instruction": text,
                "counts": counts,
                "relations": relations,
            }
            handle.write(json.dumps(row) + "\n")
    print(f"{len(R)} rows -> {out}")


if __name__ == "__main__":
    main()
