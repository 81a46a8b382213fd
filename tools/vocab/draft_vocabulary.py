#!/usr/bin/env python3
"""Drafts models/vocabulary.toml from the label lists in models/labels/.

The ImageNet part starts from imagenet1k_parent.txt (one coarse parent per class) and fixes
its known mistakes with the tables below (birds filed under "invertebrate", cabinets under
"vehicle", ...); classes that share a friendly tag (all dog breeds -> "dog") are listed in
GROUPS. The output was then reviewed class by class and edited by hand: rerunning this script
overwrites those edits, so diff before committing.

    python3 tools/vocab/draft_vocabulary.py > models/vocabulary.toml
"""
import re
import sys
from pathlib import Path

LABELS = Path(__file__).resolve().parents[2] / "models" / "labels"

# Coarse parent fixes: raw class -> corrected parent (a key of PARENT_CATEGORIES).
FIX = {}
for n in ("black grouse|ptarmigan|ruffed grouse|prairie grouse|peafowl|quail|partridge|"
          "african grey parrot|macaw|sulphur-crested cockatoo|lorikeet|coucal|bee eater|"
          "hornbill|hummingbird|jacamar|toucan|drake (male duck)|red-breasted merganser|goose|"
          "black swan").split("|"):
    FIX[n] = "bird"
for n in "tusker|echidna|platypus|wallaby|koala|wombat".split("|"):
    FIX[n] = "mammal"
FIX.update({
    "china cabinet": "furniture", "filing cabinet": "furniture", "medicine cabinet": "furniture",
    "scabbard": "object", "strainer": "kitchen", "block plane": "tool",
    "planetarium": "building", "sewing machine": "object", "swing": "object",
    "parachute": "sports", "airliner": "aircraft", "airship": "aircraft",
    "boathouse": "building", "paddle": "sports", "fountain pen": "object",
    "photocopier": "electronics", "shopping basket": "container", "shopping cart": "object",
    "home theater": "electronics", "odometer": "vehicle", "bottle cap": "object",
    "hatchet": "tool", "lens cap": "object", "shoe store": "building",
    "thatched roof": "building", "fire screen": "furniture", "mousetrap": "object",
    "sunscreen": "object", "window screen": "object", "desktop computer": "electronics",
    "pencil sharpener": "object", "breastplate": "clothing", "plant pot": "container",
    "ballpoint pen": "object", "golf cart": "vehicle", "crossword": "object",
    "jigsaw puzzle": "object", "wheelbarrow": "object", "bobsleigh": "sports",
    "dog sled": "vehicle", "half-track": "vehicle", "combine harvester": "vehicle",
    "horse-drawn vehicle": "vehicle", "rickshaw vehicle": "vehicle", "bullock cart": "vehicle",
    "military aircraft": "aircraft", "threshing machine": "vehicle", "movie theater": "building",
    "bell tower": "building", "dock": "landscape", "breakwater": "landscape",
    "military uniform": "clothing", "bra": "clothing", "sneaker": "clothing",
    "swim trunks / shorts": "clothing", "hair wig": "clothing", "necklace": "clothing",
    "bolo tie": "clothing", "Pickelhaube": "clothing", "cuirass": "clothing",
    "bulletproof vest": "clothing", "knee pad": "clothing", "feather boa": "clothing",
    "hay": "plant", "mushroom": "plant", "plate": "food", "tea cup": "kitchen",
    "mobile home": "building", "shopping basket ": "container",
})

# Parent -> categories of a class under it (each category is defined in TAGS below).
PARENT_CATEGORIES = {
    "dog": [], "cat": [], "bird": ["animal"], "fish": ["animal"], "mammal": ["mammal"],
    "wild_canine": ["mammal"], "marine_mammal": ["mammal", "sea life"], "bear": ["mammal"],
    "reptile": ["reptile"], "amphibian": ["amphibian"], "insect": ["insect"],
    "invertebrate": ["invertebrate"], "person": ["person"], "landscape": ["landscape"],
    "plant": ["plant"], "food": ["food"], "vehicle": ["vehicle"], "aircraft": ["aircraft"],
    "watercraft": ["boat"], "building": ["building"], "clothing": ["clothing"],
    "container": ["object"], "electronics": ["electronics"], "furniture": ["furniture"],
    "instrument": ["musical instrument"], "kitchen": ["kitchen"], "sports": ["sports"],
    "tool": ["tool"], "object": ["object"],
}

# Friendly tags shared by several raw classes (the raw class stays as the child tag).
GROUPS = {
    "cat": "tabby cat|a cat having a striped coat|Persian cat|Siamese cat|Egyptian Mau",
    "wolf": "grey wolf|Alaskan tundra wolf|red wolf or maned wolf|coyote|dingo|dhole|African wild dog",
    "fox": "red fox|kit fox|Arctic fox|grey fox",
    "bear": "brown bear|American black bear|polar bear|sloth bear",
    "whale": "grey whale|killer whale",
    "monkey": "guenon|patas monkey|baboon|macaque|langur|black-and-white colobus|proboscis monkey|"
              "marmoset|white-headed capuchin|howler monkey|titi monkey|Geoffroy's spider monkey|"
              "common squirrel monkey|ring-tailed lemur|indri",
    "ape": "orangutan|gorilla|chimpanzee|gibbon|siamang",
    "elephant": "Asian elephant|African bush elephant|tusker",
    "rabbit": "cottontail rabbit|hare|Angora rabbit",
    "horse": "common sorrel horse",
    "sheep": "ram (adult male sheep)|bighorn sheep",
    "cattle": "ox|water buffalo|bison",
    "pig": "pig|wild boar|warthog",
    "antelope": "hartebeest|impala (antelope)|gazelle|Alpine ibex",
    "turtle": "loggerhead sea turtle|leatherback sea turtle|mud turtle|terrapin|box turtle",
    "lizard": "banded gecko|green iguana|Carolina anole|desert grassland whiptail lizard|agama|"
              "frilled-necked lizard|alligator lizard|Gila monster|European green lizard|"
              "chameleon|Komodo dragon",
    "crocodile": "Nile crocodile|American alligator",
    "snake": "worm snake|ring-necked snake|eastern hog-nosed snake|smooth green snake|kingsnake|"
             "garter snake|water snake|vine snake|night snake|boa constrictor|African rock python|"
             "Indian cobra|green mamba|sea snake|Saharan horned viper|"
             "eastern diamondback rattlesnake|sidewinder rattlesnake",
    "frog": "American bullfrog|tree frog|tailed frog",
    "salamander": "fire salamander|smooth newt|newt|spotted salamander|axolotl",
    "beetle": "tiger beetle|ladybug|ground beetle|longhorn beetle|leaf beetle|dung beetle|"
              "rhinoceros beetle|weevil",
    "butterfly": "red admiral butterfly|ringlet butterfly|monarch butterfly|small white butterfly|"
                 "sulphur butterfly|gossamer-winged butterfly",
    "spider": "yellow garden spider|barn spider|European garden spider|southern black widow|"
              "tarantula|wolf spider|harvestman",
    "crab": "Dungeness crab|rock crab|fiddler crab|red king crab|hermit crab",
    "lobster": "American lobster|spiny lobster|crayfish",
    "parrot": "african grey parrot|macaw|sulphur-crested cockatoo|lorikeet",
    "duck": "drake (male duck)|red-breasted merganser",
    "chicken": "rooster|hen",
    "car": "station wagon|taxicab|convertible|jeep|limousine|minivan|ford model t|race car|"
           "sports car|police van|ambulance|beach wagon|cab|go-kart",
    "car part": "car mirror|car wheel|radiator grille|odometer|seat belt|disc brake",
    "truck": "fire truck|garbage truck|pickup truck|tow truck|semi-trailer truck|moving van|"
             "forklift|snowplow|tractor",
    "bus": "minibus|school bus|trolleybus",
    "train": "high-speed train|electric locomotive|freight car|railroad car|steam locomotive|tram",
    "bicycle": "tandem bicycle|mountain bike|tricycle|unicycle",
    "motorcycle": "moped|motor scooter",
    "boat": "kayak|catamaran|fireboat|gondola|lifeboat|pirate ship|schooner|motorboat|trimaran|"
            "yawl (boat)|canoe|speedboat",
    "ship": "container ship|ocean liner|aircraft carrier|submarine|shipwreck",
    "airplane": "airliner|military aircraft|airplane wing",
    "fruit": "Granny Smith apple|strawberry|orange|lemon|fig|pineapple|banana|jackfruit|"
             "cherimoya (custard apple)|pomegranate",
    "vegetable": "cabbage|broccoli|cauliflower|zucchini|spaghetti squash|acorn squash|"
                 "butternut squash|cucumber|artichoke|bell pepper|cardoon|corn",
    "mushroom": "mushroom|coral fungus|agaric|gyromitra|stinkhorn mushroom|earth star fungus|"
                "hen of the woods mushroom|bolete",
    "flower": "daisy|yellow lady's slipper|rapeseed",
    "drink": "red wine|espresso|eggnog",
    "bridge": "through arch bridge|suspension bridge|viaduct",
    "fence": "chain-link fence|picket fence|split-rail fence",
    "shop": "bakery|barbershop|bookstore|butcher shop|candy store|grocery store|tobacco shop|"
            "toy store|shoe store",
    "church": "church|monastery|mosque|stupa|altar",
    "ball": "baseball|basketball|croquet ball|golf ball|ping-pong ball|rugby ball|soccer ball|"
            "tennis ball|volleyball ball",
    "gun": "assault rifle|revolver|rifle",
    "computer": "laptop computer|notebook computer|desktop computer|hand-held computer",
    "phone": "mobile phone|rotary dial telephone|payphone",
    "camera": "Polaroid camera|reflex camera",
    "clock": "analog clock|digital clock|wall clock",
    "screen": "monitor|CRT monitor|television|screen",
    "hat": "cowboy hat|sombrero|poke bonnet|military hat (bearskin or shako)|graduation cap|"
           "shower cap|swimming cap|Pickelhaube",
    "helmet": "crash helmet|football helmet",
    "shoe": "clogs|cowboy boot|slip-on shoe|sandal|sneaker|running shoe|Loafer|loafer",
    "swimwear": "bikini|one-piece bathing suit|swim trunks / shorts|maillot|swimming trunks",
    "dress": "gown|hoop skirt|overskirt|miniskirt|abaya|kimono|sarong",
    "chair": "barber chair|folding chair|rocking chair|throne",
    "bed": "four-poster bed|infant bed|cradle|bassinet",
    "bottle": "beer bottle|wine bottle|water bottle|pill bottle|soda bottle|whiskey jug|water jug",
    "tent": "tent|mountain tent|yurt",
    "guitar": "acoustic guitar|electric guitar|banjo",
    "piano": "grand piano|upright piano",
    "wedding": "bridegroom",
}

# Extra categories for particular classes (on top of their parent's).
EXTRA = {
    "goldfish": ["pet"], "hamster": ["pet"], "guinea pig": ["pet"], "Angora rabbit": ["pet"],
    "common sorrel horse": ["farm animal"], "ox": ["farm animal"], "pig": ["farm animal"],
    "ram (adult male sheep)": ["farm animal"], "rooster": ["farm animal"], "hen": ["farm animal"],
    "baseball player": ["sports"], "scuba diver": ["sports", "sea life"],
    "seashore": ["water"], "lakeshore": ["water"], "coral reef": ["sea life"],
}

# Friendly tags' own categories and priorities (higher leads a photo's tag list).
TAGS = {
    "animal": ([], 60), "pet": (["animal"], 70), "dog": (["pet"], 80), "cat": (["pet"], 80),
    "mammal": (["animal"], 55), "bird": (["animal"], 70), "fish": (["animal"], 65),
    "reptile": (["animal"], 55), "amphibian": (["animal"], 55), "insect": (["animal"], 55),
    "invertebrate": (["animal"], 50), "sea life": ([], 40), "farm animal": (["animal"], 60),
    "wolf": (["mammal"], 65), "fox": (["mammal"], 65),
    "bear": (["mammal"], 65), "whale": (["mammal", "sea life"], 65), "monkey": (["mammal"], 65),
    "ape": (["mammal"], 65), "elephant": (["mammal"], 65), "rabbit": (["mammal"], 65),
    "horse": (["mammal"], 65), "sheep": (["mammal"], 65), "cattle": (["mammal", "farm animal"], 65),
    "pig": (["mammal"], 65), "antelope": (["mammal"], 60), "turtle": (["reptile"], 60),
    "lizard": (["reptile"], 60), "crocodile": (["reptile"], 60), "snake": (["reptile"], 60),
    "frog": (["amphibian"], 60), "salamander": (["amphibian"], 60), "beetle": (["insect"], 55),
    "butterfly": (["insect"], 60), "spider": (["invertebrate"], 55),
    "crab": (["invertebrate", "sea life"], 55), "lobster": (["invertebrate", "sea life"], 55),
    "parrot": (["bird"], 65), "duck": (["bird"], 65), "chicken": (["bird", "farm animal"], 65),
    "person": ([], 90), "people": ([], 90), "group": (["people"], 92),
    "face": (["person"], 85), "wedding": (["person"], 75),
    "child": (["person"], 88), "teen": (["person"], 86), "adult": (["person"], 84),
    "senior": (["person"], 86), "male": (["person"], 83), "female": (["person"], 83),
    "nudity": (["sensitive"], 95), "sensitive": ([], 95), "body": (["person"], 30),
    "text": ([], 50), "document": (["text"], 60), "screenshot": (["text"], 55),
    "rotated": ([], 5), "emotion": (["person"], 45),
    "happy": (["emotion"], 70), "sad": (["emotion"], 60), "angry": (["emotion"], 60),
    "surprised": (["emotion"], 60), "afraid": (["emotion"], 55), "disgusted": (["emotion"], 55),
    "hand": (["body"], 35),
    "vehicle": ([], 60), "car": (["vehicle"], 70), "car part": (["car"], 45),
    "truck": (["vehicle"], 65), "bus": (["vehicle"], 65), "train": (["vehicle"], 65),
    "bicycle": (["vehicle"], 65), "motorcycle": (["vehicle"], 65), "boat": (["vehicle"], 65),
    "ship": (["boat"], 65), "aircraft": (["vehicle"], 65), "airplane": (["aircraft"], 65),
    "food": ([], 65), "fruit": (["food"], 62), "vegetable": (["food"], 62), "drink": ([], 55),
    "plant": ([], 50), "mushroom": (["plant"], 55), "flower": (["plant"], 60),
    "landscape": ([], 55), "water": (["landscape"], 50), "building": ([], 50),
    "bridge": (["building"], 55), "fence": (["building"], 35), "shop": (["building"], 50),
    "church": (["building"], 55), "clothing": ([], 35), "hat": (["clothing"], 35),
    "helmet": (["clothing"], 35), "shoe": (["clothing"], 35), "swimwear": (["clothing"], 40),
    "dress": (["clothing"], 35), "furniture": ([], 35), "chair": (["furniture"], 35),
    "bed": (["furniture"], 35), "electronics": ([], 40), "computer": (["electronics"], 45),
    "phone": (["electronics"], 45), "camera": (["electronics"], 45),
    "clock": (["object"], 35), "screen": (["electronics"], 40),
    "musical instrument": ([], 50), "guitar": (["musical instrument"], 55),
    "piano": (["musical instrument"], 55), "sports": ([], 55), "ball": (["sports"], 50),
    "kitchen": ([], 35), "bottle": (["kitchen"], 35), "tool": ([], 30), "gun": (["tool"], 50),
    "object": ([], 20), "tent": (["object"], 45),
}

# Noise on photos (textures and screens that ImageNet models name on anything): not tagged.
IGNORE = {"velvet fabric", "wool", "spiral or coil", "window screen", "window shade", "chain mail",
          "honeycomb", "knot", "dishcloth", "paper towel", "handkerchief", "doormat",
          "prayer rug", "quilt", "bath towel", "shower curtain", "front curtain", "mosquito net",
          "chain", "maze", "crossword", "jigsaw puzzle", "bubble", "sunscreen", "lotion",
          "face powder", "hair spray", "matchstick", "plectrum", "oil filter",
          "product packet / packaging", "nematode", "flatworm", "isopod"}

# Raw classes with their own confidence threshold (the model default is 0.2 for ImageNet):
# classes the networks say about people-less scenes or screens too readily.
THRESHOLDS = {"website": 0.5, "comic book": 0.5, "menu": 0.5, "envelope": 0.4,
              "mask": 0.5, "hair wig": 0.5, "military uniform": 0.4, "bikini": 0.4,
              "brassiere": 0.5, "bra": 0.5, "diaper": 0.5, "plate": 0.3}

# Renamed classes whose raw name is unfriendly (the raw name stays as a child tag).
RENAME = {
    "website": "screenshot", "comic book": "text", "menu": "text", "dust jacket": "book",
    "traffic or street sign": "sign", "a cat having a striped coat": "cat",
    "tights for gymnastics, a one-piece leotard, or a sport jersey": "jersey",
    "cardboard box / carton": "box", "crate box": "box", "shoji screen / room divider": "screen",
    "handrail / baluster": "railing", "swim trunks / shorts": "swimwear",
    "triceratops": "dinosaur", "trilobite": "fossil", "plate": "food",
    "dock": "harbour", "pier": "harbour", "seashore": "beach", "sandbar": "beach",
    "scuba diver": "diving", "baseball player": "baseball", "bridegroom": "wedding",
    "tabby cat": "cat", "hot dog": "hot dog", "Granny Smith apple": "apple",
}


def clean(name):
    """A raw class as a friendly tag: lower case, no parenthesised gloss."""
    if name in RENAME:
        return RENAME[name]
    n = re.sub(r"\s*\(.*?\)", "", name)
    n = n.split(" / ")[0].split(" or ")[0].strip()
    return n if n[:1].isupper() and n[1:2].isupper() else n.lower()


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def entry(tag=None, categories=(), threshold=None, priority=None, ignore=False):
    parts = []
    if ignore:
        parts.append("ignore = true")
    if tag is not None:
        parts.append(f"tag = {q(tag)}")
    if categories:
        parts.append("categories = [" + ", ".join(q(c) for c in categories) + "]")
    if threshold is not None:
        parts.append(f"threshold = {threshold}")
    if priority is not None:
        parts.append(f"priority = {priority}")
    return "{ " + ", ".join(parts) + " }"


def main():
    out = sys.stdout
    group_of = {}
    for tag, names in GROUPS.items():
        for n in names.split("|"):
            group_of[n] = tag
    parents = dict(line.split("\t") for line in (LABELS / "imagenet1k_parent.txt").read_text().splitlines())
    out.write(HEADER)
    extra_tags = {}
    lines = []
    seen = set()
    for raw in (LABELS / "imagenet1k.txt").read_text().splitlines():
        if raw in seen:
            continue  # "missile" and "sunglasses" appear twice in the list
        seen.add(raw)
        parent = FIX.get(raw, parents[raw])
        if raw in IGNORE:
            lines.append(f"{q(raw)} = {entry(ignore=True)}")
            continue
        if parent == "dog":
            tag, cats = "dog", []
        elif parent in ("fish", "bird") and raw not in group_of:
            tag, cats = parent, []
        else:
            tag = group_of.get(raw, clean(raw))
            cats = [] if tag in TAGS else list(PARENT_CATEGORIES[parent])
        cats += [c for c in EXTRA.get(raw, []) if c not in cats]
        if tag not in TAGS and tag != raw.lower():
            extra_tags.setdefault(tag, cats)
        # A class whose tag is defined in [tags] gets its categories from there.
        own = [c for c in cats if tag not in TAGS or c not in TAGS[tag][0]]
        lines.append(f"{q(raw)} = {entry(tag, own, THRESHOLDS.get(raw))}")
    out.write("\n[sets.imagenet]\n")
    out.write('models = ["mobilenet_v2", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]\n')
    out.write("[sets.imagenet.labels]\n")
    out.write("\n".join(lines) + "\n")
    out.write(TAIL)
    out.write("\n[tags]\n")
    for tag, (cats, prio) in sorted(TAGS.items()):
        out.write(f"{q(tag)} = {entry(None, cats, None, prio)}\n")


HEADER = """\
# The vocabulary: what each raw class of each labeler becomes as tags people search for.
# Format: models/README.md ("Vocabulary"). Drafted by tools/vocab/draft_vocabulary.py, then
# reviewed (one pass over every group of classes); from now on edit this file, not the script.
version = 1
"""

TAIL = """
# NudeNet v3 body-part detector: faces count as faces; exposed intimate parts are "nudity"
# (category "sensitive", so they can be hidden or found); covered parts say nothing useful.
[sets.nudenet]
models = ["nudenet_320n"]
[sets.nudenet.labels]
FACE_FEMALE = { tag = "face", categories = ["female"], threshold = 0.5 }
FACE_MALE = { tag = "face", categories = ["male"], threshold = 0.5 }
FEMALE_GENITALIA_EXPOSED = { tag = "nudity", threshold = 0.4 }
MALE_GENITALIA_EXPOSED = { tag = "nudity", threshold = 0.4 }
FEMALE_BREAST_EXPOSED = { tag = "nudity", threshold = 0.4 }
BUTTOCKS_EXPOSED = { tag = "nudity", threshold = 0.4 }
ANUS_EXPOSED = { tag = "nudity", threshold = 0.4 }
MALE_BREAST_EXPOSED = { tag = "body", threshold = 0.5 }
BELLY_EXPOSED = { tag = "body", threshold = 0.5 }
ARMPITS_EXPOSED = { tag = "body", threshold = 0.5 }
FEET_EXPOSED = { tag = "body", threshold = 0.5 }
FEMALE_GENITALIA_COVERED = { ignore = true }
FEMALE_BREAST_COVERED = { ignore = true }
BUTTOCKS_COVERED = { ignore = true }
ANUS_COVERED = { ignore = true }
BELLY_COVERED = { ignore = true }
ARMPITS_COVERED = { ignore = true }
FEET_COVERED = { ignore = true }

# MTCNN faces (one label per face).
[sets.face]
models = ["mtcnn_onet", "mtcnn_pnet", "mtcnn_rnet"]
[sets.face.labels]
face = { tag = "face" }

# Age band per face (the network's 0..80 outputs are reported as these bands).
[sets.age]
models = ["age_v1"]
[sets.age.labels]
child = { tag = "child" }
teen = { tag = "teen" }
adult = { tag = "adult" }
senior = { tag = "senior" }

[sets.gender]
models = ["gender_v1"]
[sets.gender.labels]
female = { tag = "female" }
male = { tag = "male" }

# Image orientation: only a rotated photo gets a label ("rotated 90" ...).
[sets.orientation]
models = ["image_orientation"]
[sets.orientation.labels]
"rotated 90" = { tag = "rotated" }
"rotated 180" = { tag = "rotated" }
"rotated 270" = { tag = "rotated" }

# Text detectors: one "text" label per text box.
[sets.text_boxes]
models = ["ppocr_v4_det", "ppocr_v5_det"]
[sets.text_boxes.labels]
text = { tag = "text" }

# Text recognisers: each label is a recognised word, kept as it is (searchable, no friendly
# tag); the boxes come from the detectors above.
[sets.text_words]
models = ["ppocr_v4_rec", "ppocr_v5_rec"]
free_text = true

# Text-line direction (used inside OCR, never stored as a label).
[sets.text_direction]
models = ["ppocr_cls_v2"]
[sets.text_direction.labels]
"0" = { ignore = true }
"180" = { ignore = true }

# Facial expression (labels/emotion_fer_cnn.txt; no labeler ships it yet).
[sets.emotion]
models = ["emotion_fer_cnn"]
[sets.emotion.labels]
angry = { tag = "angry" }
disgust = { tag = "disgusted" }
fear = { tag = "afraid" }
happy = { tag = "happy" }
sad = { tag = "sad" }
surprise = { tag = "surprised" }
neutral = { ignore = true }

# Hands (labels/hand.txt; no labeler ships it yet).
[sets.hand]
models = ["hand"]
[sets.hand.labels]
hand = { tag = "hand" }

# Rules: tags that come from how many labels of one model carry a tag (at a confidence).
# Faces: one is a "person" (face's category), two or more are "people", three or more a "group".
[[rules]]
tag = "people"
when = "face"
min_count = 2

[[rules]]
tag = "group"
when = "face"
min_count = 3

# Many text boxes from one detector: a page, a poster, a screenshot of text.
[[rules]]
tag = "document"
when = "text"
min_count = 12
"""

if __name__ == "__main__":
    main()
