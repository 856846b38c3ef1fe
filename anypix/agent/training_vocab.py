"""Vocabularies of the planner's training pairs (:mod:`anypix.agent.training_data`).

Wide on purpose: the first adapter, trained on 29 object nouns, read "the burger should be a
pizza" as a variation because it had never seen either noun. Every list here is plain English
written for the generator, not taken from the benchmark's rows.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


OBJECTS = _words("""dog cat car bicycle lamp chair tree boat bench umbrella hat vase sofa bird horse kite
clock mug fence sign ladder bus plant table balloon door window rug guitar bike truck cow sheep
pig duck goose owl parrot fish frog turtle rabbit squirrel deer fox bear zebra giraffe elephant
lion tiger monkey camel goat chicken apple banana orange pear lemon cake pizza burger sandwich
bottle cup glass plate bowl spoon fork knife teapot kettle candle book laptop phone camera radio
television piano violin drum trumpet backpack suitcase bag wallet scarf jacket coat shirt dress
shoe boot sock glove ring necklace watch crown helmet mask sunglasses glasses tie bow flower rose
tulip sunflower cactus mushroom rock stone shell log bridge tower castle house barn tent cabin
lighthouse windmill statue fountain mailbox lamppost streetlight flag poster painting mirror
pillow blanket basket box crate barrel bucket broom shovel hammer wheel tire ball frisbee surfboard
skateboard sled kayak canoe airplane helicopter rocket train tram tractor van motorcycle scooter
cloud rainbow sun moon star snowman pumpkin leaf branch bush hedge pond puddle logo sticker
banner cushion curtain shelf bed desk stool couch fridge oven sink bathtub towel toothbrush
donut cookie pie icecream popcorn coffee tea wine beer robot dragon unicorn ghost""")

PEOPLE = ["the man", "the woman", "the girl", "the boy", "the kid", "the child", "the baby",
          "grandpa", "grandma", "the bride", "the groom", "the old man", "the lady", "dad", "mom",
          "the guy", "the dog", "the cat", "the chef", "the runner", "the statue"]  # fmt: skip
PRONOUNS = {"the man": "him", "the boy": "him", "grandpa": "him", "the groom": "him",
            "dad": "him", "the guy": "him", "the old man": "him", "the woman": "her",
            "the girl": "her", "the lady": "her", "grandma": "her", "the bride": "her",
            "mom": "her"}  # fmt: skip
WEARABLES = ["hat", "scarf", "sunglasses", "crown", "tie", "necklace", "helmet", "mask", "bow",
             "jacket", "coat", "cap", "wig", "party hat", "backpack", "watch"]  # fmt: skip
HOLDABLES = ["umbrella", "coffee", "cup", "balloon", "flower", "book", "phone", "guitar", "sign",
             "bag", "torch", "kite", "flag", "ice cream", "sword", "bunch of flowers"]  # fmt: skip

SCENES = _words("""photo beach street kitchen garden room park lake office yard city forest field harbour
porch desk shop alley diner stable trip cabin shed pic picture image shot snap selfie portrait
wedding party holiday vacation dinner breakfast festival concert mountain valley river bridge
meadow village town market station airport classroom library studio gallery bedroom bathroom
garage balcony rooftop terrace pool lobby cafe bakery farm barnyard desert canyon island coast
pier dock marina skyline sunset sunrise snowscape cliff cave temple church plaza square""")
PHOTO_NAMES = ["IMG_{n}.jpg", "IMG_{n}.png", "DSC_{n}.JPG", "PXL_2024{n}.jpg", "photo_{n}.jpeg",
               "{name}.jpg", "{name}_01.png", "{name}-final.png", "{name} (1).jpg",
               "{name}-2019.jpeg", "scan_{n}.tif", "screenshot_{n}.png"]  # fmt: skip
SOUNDS = _words("""rain birds siren waves thunder crickets jazz wind bells song music track tune melody
piano guitar violin drums choir waltz lullaby storm fire campfire traffic crowd whale wolf ocean
stream creek owl train bell chimes""")
STYLES = _words("""monet klimt hokusai sketch poster noir film ref vangogh starry picasso dali vermeer
rembrandt matisse warhol cezanne turner kahlo mood palette look vibe style painting ukiyo
watercolor comic anime pixelart lomo polaroid vintage""")
SOUND_WORDS = {"audio": ["the song", "the sound", "the music", "the track", "the audio",
                         "the recording", "the clip"],
               "image": ["the painting", "the reference", "the other picture", "the artwork",
                         "the style image", "the second image"]}  # fmt: skip

COLOURS = ["red", "blue", "green", "yellow", "purple", "pink", "orange", "white", "black",
           "silver", "gold", "dark green", "light blue", "bright red", "teal", "brown", "grey",
           "gray", "navy", "turquoise", "beige", "maroon", "lime green", "violet", "crimson",
           "cyan", "magenta", "cream", "olive", "coral", "lavender", "bronze"]  # fmt: skip
LOOKS = ["snowy", "look like night", "look like autumn", "look like a watercolour", "foggy",
         "look like a pencil sketch", "feel like sunset", "look like an oil painting", "rainy",
         "look like an old postcard", "look like winter", "vintage", "look like a comic",
         "dreamy", "moody", "look like a cartoon", "black and white", "feel warmer", "sunny",
         "look like spring", "look like a dream", "look like the 80s", "stormy", "cozy",
         "look like an anime", "look like a mosaic", "feel like summer", "gloomy", "misty",
         "look like it's underwater", "look like a neon city", "look like dusk"]  # fmt: skip
DESCRIPTIONS = ["a quiet harbour at night", "a beach at dusk", "a cosy cabin in the snow",
                "a busy street market", "a summer night", "a mountain lake at dawn",
                "a field of sunflowers", "a city street", "a rainy alley", "a desert road",
                "a forest in autumn", "an old lighthouse on a cliff", "a kitchen in the morning",
                "a garden party", "a castle on a hill", "a sleepy village", "a stormy sea",
                "a train station at night", "a bowl of fruit on a table", "a red barn in a field",
                "a dog running on the beach", "two boats on a calm lake", "a cat on a sofa",
                "a snowy mountain", "a neon-lit diner", "a picnic in the park",
                "a waterfall in the jungle", "a spaceship over a city", "a cup of coffee"]  # fmt: skip
PLACES = ["on the left", "on the right", "in the top left corner", "at the bottom",
          "in the middle", "in the top right corner", "at the top", "in the bottom left corner",
          "in the bottom right", "in the centre", "in the background", "in the foreground",
          "next to the door", "by the window", "over on the left", "up in the sky"]  # fmt: skip
DIRECTIONS = ["to the left", "to the right", "up a bit", "down a little", "closer to the door",
              "to the top", "a little to the left", "over to the right", "into the corner",
              "to the centre", "further back", "to the bottom right", "into the top left corner",
              "higher", "lower", "a bit to the right"]  # fmt: skip
MOVE_VERBS = ["move", "shift", "scoot", "drag", "nudge", "slide", "push", "put", "bring",
              "pull", "relocate"]  # fmt: skip
NUMBERS = {2: ["2", "two", "a pair of", "a couple of"], 3: ["3", "three"], 4: ["4", "four"],
           5: ["5", "five"], 6: ["6", "six", "half a dozen"], 12: ["12", "twelve", "a dozen"]}  # fmt: skip
SHAPES = ["circle", "square", "ball", "box", "star", "ring", "triangle", "heart", "rectangle",
          "moon", "dot", "cube"]  # fmt: skip
RELATIONS = {"left_of": ["to the left of", "left of"], "right_of": ["to the right of"],
             "above": ["above", "over", "on top of"], "below": ["below", "under", "underneath"],
             "next_to": ["next to", "beside"]}  # fmt: skip
