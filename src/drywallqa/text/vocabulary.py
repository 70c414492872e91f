"""Generated prompt lists: paraphrases of the concepts a model knows, and unrelated prompts it does not.

Every list is made from word lists and templates (no hand-picked test prompts), and split by a hash of
its *head word* into ``train`` / ``val`` / ``test`` parts, so that a held-out part holds words no
training or threshold choice has seen. Paraphrases come with the misspellings a phone keyboard makes
(a dropped letter, two letters swapped, a neighbouring key).

    paraphrases("cracks", "test")   -> ["segment fracture", "show me the hairline cracks", "segmnet crack", ...]
    unrelated("val")                -> ["segment the window", "find the ladder", ...]
"""

from __future__ import annotations

import hashlib
import random

PARTS = ("train", "val", "test")

# head words of each known concept (the datasets' foreground classes)
CONCEPT_WORDS = {
    "cracks": ["crack", "cracks", "wall crack", "hairline crack", "fissure", "fracture", "crack line", "cracked plaster",
               "crack in the wall", "drywall crack", "split in the wall", "crazing", "surface crack", "cracking",
               "broken plaster line", "fine crack", "wide crack", "crack on the board",
               # the patterns and causes inspectors name cracks by
               "spider crack", "settlement crack", "stress crack", "shrinkage crack", "stair-step crack",
               "map cracking", "plaster crack", "horizontal crack", "diagonal crack"],
    "taping": ["taping area", "taping", "tape", "joint tape", "drywall joint", "drywall seam", "seam", "joint",
               "taped joint", "taped seam", "mud and tape", "joint compound", "board joint", "tape strip",
               "plasterboard joint", "butt joint", "seam tape", "taping strip",
               # the finishing trade's words for a joint at its stages
               "mudded joint", "mudded seam", "feathered joint", "mud joint", "sheetrock seam", "panel joint",
               "joint line"],
}

# head words of things a wall photo may show, or people may ask about, that no shipped model learnt
UNRELATED_WORDS = [
    "window", "door", "person", "worker", "hand", "face", "chair", "table", "ladder", "scaffold", "bucket", "toolbox",
    "drill", "hammer", "cable", "wire", "pipe", "duct", "vent", "radiator", "outlet", "socket", "light switch",
    "ceiling light", "lamp", "smoke detector", "sprinkler", "thermostat", "floor", "ceiling", "carpet", "tile",
    "brick", "concrete block", "wood stud", "steel beam", "insulation", "glass", "mirror", "curtain", "shelf",
    "cabinet", "sink", "toilet", "bathtub", "shower", "stairs", "railing", "roof", "sky", "tree", "grass", "car",
    "truck", "dog", "cat", "bird", "shadow", "reflection", "paint drip", "paint", "wallpaper", "graffiti", "text",
    "logo", "sticker", "poster", "picture frame", "clock", "television", "computer", "phone", "bottle", "cup",
    "box", "bag", "helmet", "glove", "boot", "mould", "water stain", "rust", "dust", "spider web", "screw",
    "nail", "bolt", "hinge", "handle", "lock", "key", "corner", "skirting board", "door frame", "window sill",
    "power cord", "extension lead", "fire extinguisher", "exit sign", "column", "beam", "arch", "chimney",
    "fireplace", "bed", "sofa", "plant", "flower", "fence", "gate", "garage", "road", "sidewalk", "mountain",
    "cloud", "sun", "moon", "apple", "banana", "pizza", "book", "pen", "paper", "keyboard", "mouse", "printer",
    # other things a finisher or an inspector finds on a wall, near cracks and joints in a sentence encoder's space
    "caulking", "sealant", "wall anchor", "plastic anchor",
]

# the kinds of tape a wall photo may show that are no drywall joint tape, as the word before "tape" ("painter's tape",
# "masking tape", "double-sided tape"), and tapes named in one word: a prompt asking for one is not asking for joints,
# however near "tape" puts its sentence embedding to the taping anchors (PromptGate.other_tape)
OTHER_TAPES = frozenset("""painter painters masking duct duck electrical electric insulating insulation measuring caution
    warning hazard barrier police gaffer gaffa washi packing parcel scotch sticky sided frog marking decorator decorators
    carpet foil aluminum aluminium hvac plumber plumbers teflon ptfe thread gorilla tesa velcro kapton vinyl cloth medical
    surgical athletic kinesiology reflective cassette vhs magnetic ticker gaff spike hockey bandage bandages""".split())
OTHER_TAPE_WORDS = frozenset("sellotape frogtape scotchtape mixtape mixtapes".split())
# things named by "tape" and the word after it ("a tape measure", "the tape recorder"): no tape on a wall
TAPE_THINGS = frozenset("measure measures recorder recorders dispenser dispensers deck decks player players gun guns".split())

# the materials and things whose joints and seams are no drywall joint, named before the joint ("tile grout joints",
# "mortar joints", "compression joints on the copper pipe"; a control or expansion joint is a metal or vinyl profile
# that lets the wall move, no taped joint) or as what the joint is in, on, of or between ("seams in
# the vinyl flooring", "expansion joint in the concrete slab", "the joints between the tiles"): a prompt asking for
# one is not asking for the taping, however near "joint" puts its sentence embedding (PromptGate.other_joint)
OTHER_JOINTS = frozenset("""tile tiles tiled tiling grout grouted grouting mortar brick bricks brickwork block blocks
    blockwork masonry stone stones stonework concrete slab slabs paving pavement compression expansion control movement
    isolation solder soldered pipe pipes
    piping copper plumbing weld welded welding wood wooden timber mitre miter mitred mitered moulding mouldings molding
    moldings crown dovetail mortise tenon hip hips
    elbow elbows shoulder shoulders ankle ankles wrist wrists finger fingers knuckle knuckles jaw
    neck toe toes bone bones fabric sewing sewn stitched
    stitching garment dress shirt jeans carpet carpets vinyl linoleum lino flooring floor floors floorboard floorboards
    laminate parquet countertop countertops worktop worktops glazing glass window windows roof roofing shingle shingles
    gutter gutters duct ducts ductwork rail rails railway track tracks coal siding wallpaper silicone siliconed sealant
    caulk caulked caulking sofa couch chair cushion mattress curtain curtains sleeve sleeves trousers jacket tent
    sail sails tarp tarpaulin leather upholstery pants shoe shoes boot boots glove gloves sock socks wetsuit wetsuits
    bag bags backpack handbag purse ball balls football baseball basketball bicycle bike chain robot robots robotic
    frame frames scaffold scaffolds scaffolding""".split())
# things with seams and joints of their own (furniture, vehicles, tents, hats): other things' joints and seams named
# before them or anywhere in their place ("the joints of the old oak table", "the seams on the wardrobe door", "the
# seams on the tent fly", "car panel seams"), not through a wall ("the reception desk wall seams")
OBJECTS = frozenset("""table tables desk desks workbench cabinet cabinets drawer drawers dresser wardrobe wardrobes bench
    benches stool stools shelf shelves bookcase bookcases car cars vehicle vehicles van vans truck trucks lorry lorries
    bodywork chassis fender fenders tent tents toque hat hats cap caps beanie truss trusses girder girders""".split())
# the words after an object's name that make it a place's ("the car park ceiling", "the truck bay", "hat channel")
OBJECT_PLACES = frozenset("""park parks bay bays wash showroom showrooms depot depots shop shops dock docks port ports
    channel channels boxing lot lots garage garages yard yards""".split())
OTHER_JOINTS = OTHER_JOINTS | OBJECTS
# the body's parts that are also a wall's or a building's ("knee wall", "back wall", "the north arm of the hallway"):
# other things' joints as the place a joint is in, on or of after a possessive ("the joint in my knee", "the joint in me
# back", "the joint in my arm"; a knee after any word: "the joint in the knee"; not "joints at the back", "the knee wall
# joints", "joints on the back wall", "joints in the north arm of the hallway"), or a knee or an arm just before the
# joint ("knee joints", "robot arm joints")
BODY_PLACES = frozenset("knee knees back arm arms".split())
# the drywall finisher's words before a joint: a joint named with one is the model's, whatever it is near ("taped
# joints on the tile backer board")
DRYWALL_JOINT_WORDS = frozenset("""taped tape taping mudded mud drywall plasterboard sheetrock gyprock gypsum wallboard
    board boards butt tapered feathered paper mesh compound finished""".split())
# the containers and tools named by a known concept's word, after it or before it with "of" ("the mud bucket", "a
# taping knife", "a tube of crack filler", "a roll of tape"): no crack or joint on a wall ("crack filler" and "joint
# filler" alone are the filled crack or joint)
PRODUCTS = frozenset("""kit kits tube tubes tub tubs bucket buckets pail pails pan pans knife knives trowel trowels roll
    rolls bag bags packet packets pot pots spray sprays""".split())
# words that look like a known concept's but name something else: "a packet of crackers", "the nutcracker"
NOT_THE_THING = frozenset("""cracker crackers nutcracker nutcrackers firecracker firecrackers wisecrack wisecracks
    crackling""".split())

# the words the trades name a kind of crack or joint by ("stress crack", "settlement crack", "panel joint"), that name
# no crack or joint alone: a prompt with one and nothing the model knows ("stress levels", "the settlement agreement",
# "acoustic panels", "a feathered hat") asks for no crack or joint, however near the anchors holding the word put its
# sentence embedding (PromptGate.kind_alone)
KIND_WORDS = frozenset("spider settlement stress shrinkage stair step map horizontal vertical diagonal feathered panel"
                       .split())

# words of the building trades that a general-English WordPiece vocabulary lacks: real words, never mended to a
# known concept's word one slip away ("joist" is no slip of "joint", "tapered" none of "taped")
TRADE_WORDS = frozenset("""joist stud soffit lintel rebar plinth mullion sill jamb dado fascia purlin rafter spackle caulk
    grout trowel sheetrock drywall plasterboard gypsum skim skirting architrave coving cornice screed render lath scrim
    bead beading bullnose sanding primer taper tapered mudding mudded feathering featheredge bevel efflorescence
    spalling crazing delamination blister toggle baseboard casing hairline fissure shim sealant flashing parging
    stucco wainscot drywaller grommet""".split())

TEMPLATES = ["segment {w}", "{w}", "segment the {w}", "find the {w}", "show me the {w}", "where is the {w}",
             "highlight {w}", "mask the {w}", "segment all {w}", "detect {w}", "outline the {w}", "{w} area"]

KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def part_of(word: str) -> str:
    """The part (train / val / test) a head word belongs to: 60 / 20 / 20 by a hash of the word."""
    h = int(hashlib.sha1(word.encode()).hexdigest(), 16) % 10
    return "train" if h < 6 else "val" if h < 8 else "test"


def _neighbours(c: str) -> str:
    for row in KEYBOARD_ROWS:
        i = row.find(c)
        if i >= 0:
            return row[max(i - 1, 0):i] + row[i + 1:i + 2]
    return ""


def misspellings(text: str, rng: random.Random, n: int = 2) -> list[str]:
    """``n`` phone-keyboard slips of ``text``: a dropped letter, two neighbours swapped, a neighbouring key."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    out = []
    for _ in range(n):
        if len(letters) < 4:
            break
        i = rng.choice(letters[1:-1])
        kind = rng.randrange(3)
        if kind == 0:
            slip = text[:i] + text[i + 1:]
        elif kind == 1 and i + 1 < len(text) and text[i + 1].isalpha():
            slip = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        else:
            near = _neighbours(text[i])
            slip = text[:i] + (rng.choice(near) if near else text[i]) + text[i + 1:]
        if slip != text:
            out.append(slip)
    return out


def _expand(words: list[str], part: str, seed: int, typos: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for w in words:
        if part_of(w) != part:
            continue
        for t in TEMPLATES:
            out.append(t.format(w=w))
        for t in rng.sample(TEMPLATES, 2):
            out += misspellings(t.format(w=w), rng, typos)
    return list(dict.fromkeys(out))


def paraphrases(concept: str, part: str) -> list[str]:
    """Paraphrases of a known concept (``CONCEPT_WORDS`` key) whose head words fall in ``part``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return _expand(CONCEPT_WORDS[concept], part, seed=len(concept), typos=2)


def unrelated(part: str) -> list[str]:
    """Prompts about things no shipped model knows, whose head words fall in ``part``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return _expand(UNRELATED_WORDS, part, seed=0, typos=0)
