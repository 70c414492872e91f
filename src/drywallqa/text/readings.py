"""The gate's readings: what a person typed, rewritten in plainer words before the prompt gate judges it.

A *reading* takes a prompt as typed and returns it with some of its words put in the words the gate's rules and
anchors know, every other word kept as typed (a prompt with nothing a reading reads comes back unchanged). The gate
(:meth:`PromptGate.correct <drywallqa.text.gate.PromptGate.correct>`) reads every prompt by :func:`plain_reading`
before it mends slips and judges it; :func:`plain_reading` composes the readings in this order:

1. :func:`structured_reading`: a program's JSON or key=value string in words (``{"op":"segment","cls":"drywall_joint"}``
   -> "drywall joint", ``query='drywall joint' negative='crack'`` -> "drywall joint, not crack");
2. :func:`trade_reading`: the trade's and other countries' words for a joint as the words the model knows ("joins",
   "seems", "where the boards meet", "gib stopping", "scrim", "flats and angles", Spanish "grietas" and "cinta":
   :data:`_TRADE_PHRASES`; "stopping" only where it names the work: :func:`_stopping_reading`);
3. :func:`dismissal_reading`: what people write for a thing they do not want as "ignore" ("leave the tape alone",
   "seams don't matter" -> "ignore seams", "EXCLUDE: CRACKS" -> "ignore CRACKS"), and for one they want as "show"
   ("..., it's the cracks I'm after" -> "..., show the cracks").

    plain_reading("the seems between the panels")    -> "the seams between the panels"
    plain_reading("just cracks. seams dont matter")  -> "just cracks. ignore seams"

The word lists these share with the gate are in :mod:`drywallqa.text.words`.
"""

from __future__ import annotations

import re
import unicodedata

from .words import (ASKING, ASKING_VERBS, CORE_KIND, DETERMINERS, NO_MARKS, ONLY, PLACE_WORDS, SURFACES,
                    TOKEN)

# "where the boards meet", "where two plasterboard sheets join", "where the panels butt together"
_BOARDS_MEET = re.compile(r"\bwhere\s+(?:(?:the|two|adjacent|neighbouring|neighboring)\s+)*((?:(?:" +
                          "|".join(sorted(SURFACES, key=len, reverse=True)) + r")\s+)*(?:boards|sheets|panels|plasterboards|"
                          r"drywalls|sheetrocks|wallboards))\s+(?:meet|join|butt(?:\s+together|\s+up)?|abut|"
                          r"come\s+together|(?:are|were|get|got)\s+(?:joined|butted|taped))\b", re.IGNORECASE)
# other countries' words for a taped joint, read as the words the model knows: New Zealand and Australia "stop" joints
# on GIB board ("gib stopping", "stopped joins"), Britain "scrims" them, and a finisher's "flats and angles" are the
# flat joints and the internal corners
_JOINT_WORK = r"(?:stopp|stopped|join|joint|seam|tap|flush|mud|compound|flat|angle|meet|butt|abut)"
_TRADE_PHRASES = [
    # Spanish and Portuguese words for a crack and a tape, in English sentences ("Please mark the grietas in the wall",
    # "Mark the grietas, no the cinta"; "fisura" is near enough "fissure" already)
    (re.compile(r"\b(?:grietas|trincas|rachaduras)\b", re.IGNORECASE), "cracks"),
    (re.compile(r"\b(?:grieta|trinca|rachadura)\b", re.IGNORECASE), "crack"),
    (re.compile(r"\bcinta\b(?!\s+(?:de|del|para|m[e\u00e9]trica|americana|aislante|adhesiva|adhesivo)\b)",
                re.IGNORECASE), "tape"),  # (not "cinta de pintor", "cinta americana": other tapes)
    (re.compile(r"\bflats?\s*(?:and|&|n|\+|/|,)\s*(?:internal\s+)?angles\b|\bangles\s*(?:and|&|n|\+|/|,)\s*flats\b",
                re.IGNORECASE), "flat joints and angle joints"),
    # GIB board, only where its joints or their work follow ("the gib board" is the board, no joint)
    (re.compile(r"\bgib(?:raltar)?[\s-]*boards(?=\s+" + _JOINT_WORK + ")", re.IGNORECASE), "plasterboards"),
    (re.compile(r"\b(?:gib|gibraltar[\s-]*board)(?:[\s-]*board)?(?=\s+" + _JOINT_WORK + ")", re.IGNORECASE),
     "plasterboard"),
    (re.compile(r"\bunstopped\b", re.IGNORECASE), "untaped"),
    (re.compile(r"\b(?:stopped|scrimmed)(?=(?:\s+(?:and|&)\s+(?:sanded|finished|filled|skimmed|coated|flushed|"
                r"feathered|taped|mudded|primed|painted))?\s+(?:joins?|joints?|seams?|areas?|"
                r"lines?|sections?|strips?)\b)|\bjointed(?=\s+(?:joins?|joints?|seams?|areas?)\b)", re.IGNORECASE),
     "taped"),  # "stopped and sanded joins", "jointed areas" (not "jointed sections of the downpipe")
]
# what people write for a thing they do not want, read as "ignore" (dismissal_reading): a verb in the imperative
# ("leave the tape alone", "leave the tape seams unselected", "leave the tape be", "let the taped joints stay hidden",
# "forget the cracks for now", "never mind the seams", "you can forget the tape"; not "don't ever forget the cracks", "I
# forget where the cracks are") and a clause saying the thing is not wanted after naming it ("seams don't matter", "the
# cracks are a separate job", "Sheetrock seams aren't really the issue", "cracks out of scope", "the taped joints stay
# out of the matte", "Cracks to be ignored", "Cracking is being assessed separately", "cracks should not be included in
# the mask", "The crack is unnecessary", "The taped seams are outside the scope of this item", "the taping leave it",
# "the crack dont include", "The cracks, I do not want them", "seam tape kindly ignore", "cracks marking is not
# needed"); where a contrast follows, it is what is asked ("the seams aren't the problem, the cracks are" -> "ignore
# the seams, show the cracks")
_UNMARKED = r"un(?:selected|marked|masked|touched|labell?ed|highlighted|segmented)"  # left so: "leave the tape unmarked"
_LEAVE_ALONE = re.compile(r"\b(?:(?:leave|leaving)\s+((?:[^\W\d_]+\s+){1,5}?)(?:alone|hidden|" + _UNMARKED + r"|"
                          r"be(?=\s*(?:[,.;:!\u2013\u2014]|$)))|let\s+((?:[^\W\d_]+\s+){1,4}?)(?:(?:stay|stays|remain|"
                          r"remains|sleep|rest|be)\s+(?:alone|hidden|" + _UNMARKED + r")|be(?=\s*(?:[,.;:!\u2013\u2014]|"
                          r"$)))(?!\s*\?))\b|\bleave\s+((?:the|those|these|any|all)\s+(?:[^\W\d_]+\s+){0,2}?[^\W\d_]+)"
                          r"(?=\s*[,;]\s*(?:" + "|".join(sorted(ASKING_VERBS | {"just", "only", "give"})) + r")\b)|"
                          r"(?:(?<=^)|(?<=[,;.!] )|(?<=[,;.!]))leave\s+((?:the|those|these|any|all)\s+(?:[^\W\d_]+\s+){0,2}?"
                          r"[^\W\d_]+)(?=\s*[.!]?\s*$)", re.IGNORECASE)  # (a clause of its own at the end: "Cracks only mind,
# leave the taped joins"; not "Show me where they leave the tape.")
# not leaving a thing unmarked asks for all of it, read as "show" (dismissal_reading): "Leave no crack unmarked", "Don't
# leave any cracks out", "Don't let the cracks stay hidden", "Let none of the taped seams go unmarked", "leave no crack
# behind"
_NONE_LEFT = re.compile(r"\b(?:(?:(?:do\s+not|don['\u2019]?t|dont|never)\s+(?:leave|let)\s+(?:any\s+|the\s+|"
                        r"a\s+(?:single\s+)?|one\s+)?)|(?:leave|let)\s+(?:no|not\s+(?:a|one)(?:\s+single)?|none\s+of(?:\s+the)?)\s+)"
                        r"((?:[^\W\d_]+\s+){0,3}?[^\W\d_]+)\s+(?:(?:to\s+)?(?:stay|stays|remain|remains|go|be)\s+)?(?:un(?:"
                        r"marked|selected|masked|highlighted|labell?ed|segmented|detected|noticed|found|flagged)|hidden|"
                        r"behind|out|missed)\b(?:\s+(?:of|from)\s+the\s+(?:mask|masks|selection|segmentation|output|"
                        r"result)\b)?(?!\s+(?:of|from)\b)", re.IGNORECASE)
_FORGET = re.compile(r"\b(?:(?:you|ye|u|we)\s+can\s+)?(?:forget(?:\s+about)?|never\s*mind(?:\s+about)?)\b", re.IGNORECASE)
# what a thing not wanted is said not to be ("should not be marked", "not to be recorded")
_SHOWN = r"included|shown|marked|highlighted|masked|segmented|selected|labell?ed|detected|counted|recorded|reported|noted"
_NOT_WANTED = (r"(?:(?:do|does)\s+not|(?:don|doesn)['\u2019]?t)(?:\s+(?:really|actually|even|much))?\s+matter|"
               r"(?:are|is)\s+(?:irrelevant|unimportant|unnecessary|unneeded|superfluous|excluded|omitted|"
               r"(?:a\s+)?(?:separate|diff|different)\s+(?:job|issue|matter|task|"
               r"problem|thing|item|trade|sub|ticket)|someone\s+else['\u2019]?s\s+(?:job|problem|concern)|out\s+of\s+scope|"
               r"(?:already\s+)?(?:fine|fixed|done|repaired|sorted|handled)|not\s+(?:important|relevant|needed|wanted|"
               r"required|necessary|of\s+interest)(?:\s+and\s+(?:should|must|shall|are\s+to|is\s+to)\s+be\s+(?:omitted|"
               r"excluded|ignored|left\s+out))?)|(?:i|we)\s+(?:do\s+not|don['\u2019]?t)\s+(?:want|need)(?:\s+(?:them|it))?|"
               r"(?:(?:i|we)\s+)?(?:do\s+not|don['\u2019]?t)\s+care|"
               r"(?:(?:kindly|please|pls|just)\s+)?(?:ignore|skip|exclude|omit)|"
               r"(?:falls?|(?:are|is|lies?)(?:\s+(?:entirely|completely))?)\s+outside\s+(?:the|our|my|this)\s+scope"
               r"(?:\s+of\s+(?:this|the)\s+(?:request|job|task|ticket|item|project|report|inspection))?|"
               r"(?:(?:are|is)\s+not|(?:aren|isn)['\u2019]?t)"
               r"(?:\s+(?:really|actually))?\s+(?:(?:the|an|a|my|our|your)\s+)?(?:issue|problem|concern|priority|focus|"
               r"point|important|relevant|needed|wanted)|can\s+wait(?:\s+(?:until|till|til)\s+[^\W\d_]+|\s+later)?|"
               r"(?:(?:should|must|shall|need|needs|are|is)\s+not|(?:shouldn|mustn|needn|aren|isn)['\u2019]?t)\s+"
               r"(?:to\s+)?be\s+(?:" + _SHOWN + r"|picked\s+up|annotated|outlined|traced)|not\s+to\s+be\s+(?:" + _SHOWN +
               r")|can\s+be\s+(?:left\s+out|ignored|"
               r"skipped|excluded|omitted)|(?:(?:should|must|shall)\s+|(?:(?:are|is)\s+)?to\s+)be\s+(?:excluded|ignored|"
               r"left\s+out|omitted|disregarded)|(?:not|no)\s+(?:needed|required|necessary|need|wanted|of\s+interest)(?:\s+"
               r"(?:to\s+)?"
               r"(?:show|mark|see|segment))?|not\s+included|"
               r"out\s+of\s+scope|(?:do\s+not|don['\u2019]?t|dont)\s+(?:include|mark|show|segment|highlight|annotate|"
               r"label|select|trace|outline)(?:\s+(?:it|them))?|(?:leave|ignore|skip)\s+(?:it|them)|"
               r"excluded\s+from\s+(?:the\s+|this\s+)?scope|(?:stay|stays|remain|remains)\s+out"
               r"(?:\s+of\s+(?:the|this|my|our|your|a)\s+[^\W\d_]+)?|"
               r"(?:are|is)\s+(?:being\s+)?(?:assessed|handled|dealt\s+with|covered|reviewed|checked|inspected|"
               r"done|treated)\s+separately(?:\s+by\s+(?:the\s+|a\s+|an\s+|another\s+|our\s+|their\s+)?[^\W\d_]+)?")
_DISMISSED = re.compile(r"(^|[.,;:!?\u2013\u2014]\s*|\s-+\s*|\b\d{1,2}[).]\s*)((?:[^\W\d_]+\s+){0,4}?[^\W\d_]+)(?:\s*[,?])?"
                        r"(?:\s*[:\u2013\u2014]\s*|\s+-+\s*|\s+)(?:" +
                        _NOT_WANTED +
                        r")(?:\s+(?:in|on|from)\s+(?:the|this|my|our|your|a)\s+(?:mask|masks|matte|selection|output|"
                        r"result|results|segmentation|annotation|labels?|image|photo|picture|request|task|item|job|"
                        r"scope))?"  # "... in the mask", "... from this Request"
                        r"(?:\s+(?:for|right)\s+now|\s+at\s+the\s+moment|\s+here|\s+today|\s+anyway|\s+really|"
                        r"\s+(?:for|in)\s+(?:this|the)\s+(?:task|item|job|request|ticket|project|report|inspection|"
                        r"exercise))?"  # "Cracks are out of scope for this task"
                        r"(?:\s+(?:sir|please|pls|plz|mate|boss|thanks|thx))?"  # "Crack not needed sir, ..."
                        r"(?=\s*(?:([.,;:!\u2013\u2014]|\s-+\s|\d{1,2}[).]\s|$)|but\b))", re.IGNORECASE)  # (not a question: "the tape
# can be left out? No. Mark it.")
# a clause saying which thing is wanted, or not, without a verb of asking, read as "show" or "ignore"
# (dismissal_reading): "..., it's the cracks I'm after", "It is the taped joints we need", "its the cracks that I want",
# "It's the tape I want you to ignore", "It's the tape we want removed", "It's not the cracks I'm after" (not "it's the
# cracks I'm worried about": a worry asks for nothing); and after such a clause, "..., it's the tape" asks for the tape
_IT_IS = r"(?:it['\u2019]?s|it\s+is|its|na)(?P<neg>\s+not)?|it\s+(?P<isnt>isn['\u2019]?t)"  # (Pidgin "na crack I want")
_WANTED = re.compile(r"(^|[.,;:!?\u2013\u2014]\s*|\bbut\s+)(?:" + _IT_IS + r")\s+(?P<name>(?:[^\W\d_]+\s+){0,3}?"
                     r"[^\W\d_]+)\s+(?:that\s+|which\s+)?(?:i|we)(?:"
                     r"(?P<want>(?:['\u2019]?m|['\u2019]?re|\s+am|\s+are)\s+(?:after|looking\s+for|interested\s+in)\b|"
                     r"\s+(?:want|need)(?=\s*(?:[,.;:!?\u2013\u2014]|-\s|$)|\s+(?:marked|shown|highlighted|segmented|found|"
                     r"outlined|here|please|now|today|first|most)\b))|"
                     r"(?P<unwanted>\s+(?:want|need)\s+(?:you\s+)?to\s+(?:ignore|skip|exclude|remove|hide|drop|leave\s+out)\b|"
                     r"\s+(?:want|need)\s+(?:it\s+|them\s+)?(?:hidden|removed|gone|left\s+out|excluded|masked\s+out|ignored|"
                     r"taken\s+out|dropped)\b|\s+(?:do\s+not|don['\u2019]?t)\s+(?:want|need)\b))", re.IGNORECASE)
_AND_IT_IS = re.compile(r"([,;]\s*|\bbut\s+)(?:it['\u2019]?s|it\s+is|its)\s+((?:[^\W\d_]+\s+){0,3}?[^\W\d_]+?)"
                        r"(?=\W*$)", re.IGNORECASE)
# a label saying what to leave out, in a ticket or a form ("ACTION: SEGMENT WALL AREA | EXCLUDE: CRACKS", "OUT OF
# SCOPE: drywall tape/seams", "Negative prompt: cracks"), read as "ignore"
_LABEL_NOT = re.compile(r"(^|[.;|,]\s*)(?:exclude|excluding|excluded|exclusions?|out\s+of\s+scope|ignore|skip|omit|"
                        r"avoid|negative(?:\s+prompt)?)\s*[:=]\s*(?=[^\W\d_])", re.IGNORECASE)
# a user story's role and reason ("As an estimator I want everything but the seams highlighted so that I can price the
# paint"): who asks and why name nothing asked for
_STORY_ROLE = re.compile(r"^\s*as\s+(?:a|an)\s+((?:[^\W\d_]+\s+){0,3}?[^\W\d_]+)\s*,?\s+(?=(?:i|we)\s+(?:want|need|"
                         r"would\s+like)\b)", re.IGNORECASE)
# (its spaces before "so" read one way, from where their run starts: \s*,?\s+ split a run of spaces between its two
# quantifiers every way there is at each of its spaces, cubic: "As a builder I want" and 4,000 spaces took ~5 minutes)
_STORY_REASON = re.compile(r"(?<!\s)(?:\s*,\s+|\s+)so\s+(?:that\s+)?(?:i|we|they|he|she|the|our|my|it)\b[^.;!?]*",
                           re.IGNORECASE)
# the marks that begin a list's items, each read as the end of a clause: numbers ("Items: 1) cracks \u2013 mark 2) seams
# \u2013 do not mark", where two or more are) and bullets ("\u2022 Mark: plasterboard \u2022 Exclude: taped joints") where
# the list begins the prompt or follows a label ("Items:"; not "Do not mark 1) the cracks 2) the tape", "Ignore the
# following: 1) tape 2) nail pops", "Everything except \u2022 cracks \u2022 windows": its items are what the words before
# it govern), and a dash before a label anywhere ("- Scope: wall surface - Exclude: cracks"; not "cracks - ignore")
_LIST_NUMBER = re.compile(r"(?:^|(?<=[\s:;,]))\(?\d{1,2}[).]\s+(?=[^\W\d_])")
_BULLET = re.compile(r"\s*[\u2022\u00b7\u25aa\u25cf\u25e6\u2023\u2043]\s*")
_DASHED_LABEL = re.compile(r"\s*(?:^|(?<=\s))-+\s+(?=(?:[^\W\d_]+\s+)?[^\W\d_]+\s*:)")
_TABLE_ROW = re.compile(r"\|\s*([^|;]+?)\s*\|\s*([^|;]+?)\s*\|")  # "| Include | Cracks |" (two cells)
_GOVERNING = frozenset("""not no don dont do never ignore ignoring skip skipping exclude excluding except without but
    neither nor following below these those them all mark show find highlight segment""".split())  # a label is none
# a word of address between two commas ("Not the cracks, bud, the taped seams"): no part of either clause
_VOCATIVE = re.compile(r",\s*(?:bud|buddy|mate|boss|sir|ma'?am|madam|bro|lads|guys|pal|chief|eh|abeg|chur|legend|cuz|"
                       r"fam|if\s+any)\s*(?=,)|,\s*(?:would|could|can|will)\s+you\s*\??\s*$", re.IGNORECASE)  # (and "if
# any" between commas, a closing "would you": "Cracks, if any, are excluded", "Not the cracks, the taped joints, would
# you")
# French "pas" beginning a clause before its thing: "not" ("Tape only, pas les fissures"; not "Je ne vois pas les
# fissures", "pas mal de fissures")
_FRENCH_NOT = re.compile(r"(^|[,;:.!?\u2013\u2014]\s*|\b(?:mais|et|but|and)\s+)pas\s+"
                         r"(?=(?:les|la|le|de|des|du|d['\u2019])\b)", re.IGNORECASE)
# Spanish "sin" before its thing: "without" ("Everything sin grietas", "La pared sin cinta"; not "It's a sin to leave
# cracks unmarked")
_SPANISH_WITHOUT = re.compile(r"\bsin\s+(?=(?:(?:las|los|la|el|the|any)\s+)?(?:crack|grieta|trinca|fisura|fissur|cinta|"
                              r"tap|joint|junta|seam)\w*)", re.IGNORECASE)
# a program's mask algebra ("mask(wall) - mask(crack)"): the masks' words, "minus" between them
_MASK_MINUS = re.compile(r"\bmasks?\(\s*([^()]+?)\s*\)\s*[-\u2212]\s*masks?\(\s*([^()]+?)\s*\)|(?<==)\s*([^\W\d_]+)"
                         r"\s+[-\u2212]\s+(?=(?:crack|fissur|tap|joint|seam)\w*)", re.IGNORECASE)  # ("mask = wall - cracks")
# marks of yes and no, as a list writes them before each thing ("\u2705 cracks \u274c tape") or between two ("Mark the
# cracks \U0001f6ab tape")
_NO_MARK = re.compile(r"\s*" + NO_MARKS + r"\s*")
_YES_MARK = re.compile(r"\s*(?:\u2705|\u2714\ufe0f?|\u2611\ufe0f?)\s*")
# (not "cracks \u26d4 tape joints only": there it says no to what it follows)
_NO_MARK_BEFORE = re.compile(_NO_MARK.pattern + r"(?=(?:(?:the|any|all|drywall|joint|plasterboard|taped)\s+)*(?:crack|"
                             r"fissur|fractur|tap|joint|join|seam|mud)\w*)(?![^,;.!?]*\bonly\b)", re.IGNORECASE)
_MARK_LAST = re.compile(r"(?:" + _NO_MARK.pattern + r"|" + _YES_MARK.pattern + r")$")
_NO_MARK_NO = re.compile(_NO_MARK.pattern + r"(?=(?:no|not)\b)", re.IGNORECASE)
# the words of a clause that is no thing's name ("I think the joints don't matter", "cracks that are not important")
_NOT_IN_A_NAME = frozenset("""i we you they it think guess feel reckon that which who whose if when because so with
    find show mark highlight segment detect only just check confirm make sure verify ensure whether see this""".split())
# the work on a thing, after its name ("crack marking", "tape detection"): not wanted, the thing is not
_TASK_NOUNS = frozenset("marking markings detection segmentation".split())  # (not "Crack outlines are not needed;
# fill the mask instead": another form of the same mask)
# words before a thing in a name that make it a name of something else: "Filling the cracks is not necessary",
# "Bounding boxes around the cracks are not required", "Polygons for the tape are not necessary"
_MASK_OF = re.compile(r"^(?:(?:a|an|the|any)\s+)?(?:mask|masks|segmentation|selection|outline|outlines)\s+(?:of|for)\s+",
                      re.IGNORECASE)  # (not "Polygons for the tape")
_OF_A_THING = frozenset("of for around to on in with about from between along over under".split())
_CLAUSE_WORDS = frozenset("and but so then also".split())  # "..., and the tape doesn't matter": before "ignore"
# the words after which a verb is in the imperative ("please forget the tape", "ok never mind the seams")
_BEFORE_AN_ORDER = frozenset("please pls plz just so ok okay and then now but um uh er erm hey".split())
_WH_WORDS = frozenset("where what which how if whether why when who to that".split())  # "I forget where the cracks are"
# words that point back to the thing left out: only some of it is ("leave the small cracks alone, mark the big ones");
# "the rest" and "the others" only after a kind of the thing ("the hairline cracks don't matter, mark the rest"; after
# the thing itself "the rest" is the wall's: "Cracks I don't want, the rest of wall yes")
_POINTS_BACK = re.compile(r"\b(?:ones|them|it(?!['\u2019]?s\b|\s+is\b)|(?P<rest>the\s+others|the\s+rest))\b",
                          re.IGNORECASE)
# what a contrast after a clause not wanting a thing says is wanted: "the cracks are", "it's the cracks", "tape does",
# "the cracks yes"
_CONTRAST = re.compile(r"\s*(?:it['\u2019]?s\s+|it\s+is\s+)?((?:[^\W\d_]+\s+){0,3}?[^\W\d_]+?)"
                       r"(\s*[:\u2013\u2014-]\s*(?:yes|show|mark|needed|wanted)|\s+(?:is|are|do|does|yes|yeah|yep|yup|please|"
                       r"pls|plz))?(?:\s+(?:sir|please|pls|mate|boss))?\s*(?=[.!;]|$)", re.IGNORECASE)
_NOT_A_CONTRAST = frozenset("nor not no neither never or".split())  # "Cracks not wanted, nor the tape please"
# a program's prompt strings (structured_reading): JSON or key=value pairs naming what to find
# (``{"cls": "drywall_joint"}``, ``target=crack``), what to leave out (``exclude``, ``negative``: ``query='drywall joint'
# negative='crack'``) or that the mask is to be inverted (``"invert": true``); a value's sign ("!joint_tape") says not
_KEY_VALUE = re.compile(r"""(?<![^\W_])["']?([A-Za-z][\w-]*)["']?\s*(?:==|[=:])\s*("[^"]*"|'[^']*'|\[[^\]]*\]|"""
                        r"""[^\s,;&{}\])]+)""")
_ASK_KEYS = frozenset("""cls class classes label labels target targets query q prompt prompts object objects category
    categories text include includes positive positives seg segment find mask type types kind seg_target mark show
    highlight detect scope target_class target_classes""".split())
# keys saying what the thing is of or on: their value is read before the thing (``{type: seam, material: fabric}`` ->
# "fabric seam", ``{type: joint_tape, material: drywall}`` -> "drywall joint tape"; one such value only)
_OF_KEYS = frozenset("material materials substrate surface".split())
_NOT_KEYS = frozenset("""exclude excludes excluded excluding exclusion exclusions negative negatives neg negative_prompt
    ignore without except not skip minus negative_class negative_classes exclude_class exclude_classes ignore_class"""
                      .split())
# a flag's settings, asking for the thing it is named by or leaving it out: "crack=false", {"taping": true}, "cracks: none",
# "cracks=0", "crack == 1" (not a count or a size: "cracks: 3", "crack: 0.3mm" are as typed)
_SETTINGS = {**dict.fromkeys("true yes on 1".split(), True), **dict.fromkeys("false no none off 0".split(), False)}
_NO_VALUE = frozenset("true false yes no none null".split())  # a setting's value, no thing: {"prompt": "cracks", "mask": true}
# the marks keyboards and editors type for an apostrophe, between letters: a backtick, the modifier letter apostrophe
# (U+02BC), a prime, a reversed quotation mark ("don`t", "don\u02bct"); "'" and "\u2019" are read as they are
_APOSTROPHE_LIKE = re.compile(r"(?<=[^\W\d_])[`\u02bc\u2032\u201b](?=[^\W\d_])")
_HASHTAG = re.compile(r"(?<![\w&#])#(?=[^\W\d_])")  # the "#" of a hashtag ("#cracks"), not "#3", "&#39;", "C#"
# what may stand around the pairs of a program string: a URL's path ("/segment?"), a call ("segment(", ")"), braces
_INVERT_KEYS = frozenset("invert inverse inverted negate negated complement".split())
# scrim alone is the British joint tape ("the scrim"); with the board's joints ("scrim over the joints"); not the mesh
# in render or a theatre's scrim
_SCRIM = re.compile(r"\bscrim\b(?!\s*(?:-\s*)?tap(?:e|es|ed|ing)\b)", re.IGNORECASE)
_SCRIM_CONTEXT = re.compile(r"\b(?:joins?|joints?|seams?|plasterboards?|drywall|sheetrock|gyprock|boards?)\b",
                            re.IGNORECASE)
_STOPPING = re.compile(r"\bstopping\b", re.IGNORECASE)
_A_CRACK_BEFORE = re.compile(r"\bcrack", re.IGNORECASE)
# the words after which "stopping" names the work on the joints ("stopping quality", "stopping only")
_AFTER_STOPPING = frozenset("quality finish finishing work job lines line coat coats compound mud only defects".split())
# the words after which "stopping" names the work on a joint ("the stopping", "gib stopping", "level 4 stopping"), not
# the verb ("stopping the leak")
_BEFORE_STOPPING = frozenset("""the a all any some this that my our your their bad poor rough visible wet fresh new
    first second third final finished unfinished sanded level coat plasterboard drywall gyprock sheetrock l3 l4 l5 just
    only""".split()) | frozenset("1 2 3 4 5".split())  # (not "joints stopping at the ceiling")
_A_THING_BEFORE = re.compile(r"\b(?:crack|tap|joint|seam|mud)", re.IGNORECASE)
_JOIN_READINGS = {"join": "joint", "joins": "joints", "seem": "seam", "seems": "seams"}
# the finisher's participles before a join ("sanded joins"; not before "seems": "the area I sanded seems fine")
_FINISHED = frozenset("""taped mudded sanded stopped finished filled skimmed coated flushed feathered scrimmed jointed
    set untaped unstopped unfinished unsanded""".split())
# the words after which a first "join" is the verb: "join the cracks", "join them up"
_JOIN_OBJECTS = DETERMINERS | frozenset("them it up together".split())
# the words before which "join(s)" and "seem(s)" name a thing ("the joins", "plasterboard joins", "taped seems");
# after anything else (or first) only where a place or the prompt's end follows ("seems in the drywall"); never a verb
# ("it seems", "what seems to be", "where the boards join": a plural before "join")
_BEFORE_A_JOIN = frozenset("""the a all any some each every those these visible vertical horizontal taped mudded butt
    flat tapered board panel sheet plasterboard drywall sheetrock gyprock wallboard ceiling wall""".split())


def trade_reading(prompt: str) -> str:
    """``prompt`` with the words people write for a joint read as "joint" or "seam": the British "join" as a noun
    ("joins in the plasterboard", "the board join"), "seems" for "seams" where it names a thing ("the seems between
    the panels", "seems in the drywall"; not "it seems to be cracked"), and a place where boards meet as their joints
    ("where the boards meet" -> "joints between the boards"; "cracks where the boards meet" -> "cracks at the joints
    between the boards"), and other countries' words for the board and its joints (:data:`_TRADE_PHRASES`: "gib
    stopping" -> "plasterboard taping", "stopped joins" -> "taped joints", "scrim" -> "scrim tape", "flats and angles"
    -> "flat joints and angle joints"; "stopping" only where it names the work, :func:`_stopping_reading`). Every
    other word is kept as typed; read again, the reading is the same."""
    text = prompt
    for _ in range(4):  # each reading may make another's words ("stopped seems" -> "stopped seams" -> "taped seams")
        read = _trade_reading_once(text)
        if read == text:
            break
        text = read
    return text


def structured_reading(prompt: str) -> str:
    """``prompt`` in words where a program wrote it as JSON or key=value pairs with a key of what to find or leave out
    (:data:`_ASK_KEYS`, :data:`_NOT_KEYS`, :data:`_INVERT_KEYS`): ``{"op":"segment","cls":"drywall_joint"}`` ->
    "drywall joint", ``query='drywall joint' negative='crack'`` -> "drywall joint, not crack", ``target=!joint_tape``
    -> "everything except joint tape", ``{"cls": "crack", "invert": true}`` -> "everything except crack", a known
    thing's flag (:data:`_SETTINGS`): ``crack=false`` -> "everything except crack", ``{"crack": true, "taping":
    false}`` -> "crack, not taping". As typed
    where no such key is there ("TODO: mark the joints", "Note: cracks only"), where words other than the pairs are
    there ("Target: the hairline cracks on the left", "Mask: the taped seams, priority = high"), and where no value
    names anything (``{"query": "_"}``)."""
    body = re.sub(r"^\s*(?:[\w./:-]*\?|[\w.]+[({])", "", prompt)  # "/segment?target=crack", "segment(target=...)",
    # "mask{type: seam}"
    body = re.sub(r"""["']?[A-Za-z][\w-]*["']?\s*:\s*(?=\{)""", "", body)  # {"task": {"target": ...}}: nested
    if re.search(r"[^\W\d_]", _KEY_VALUE.sub("", body)):
        return prompt  # words besides the pairs: a person's ("Mask: the taped seams, priority = high"), as typed
    asked, left_out, invert, of = [], [], False, []
    flags = not any("=" in m.group(2) for m in _KEY_VALUE.finditer(body))  # not in a person's list of pairs under a
    # label ("defects: tape=no, cracks=yes": the gate reads "tape=no" itself)
    for m in _KEY_VALUE.finditer(body):
        key, value = m.group(1).lower().replace("-", "_"), m.group(2).strip()
        if key in _OF_KEYS:
            of += [w.strip().replace("_", " ") for w in re.split(r"""["'\[\],]+""", value) if re.search(r"[^\W\d_]", w)]
        elif key in _INVERT_KEYS:
            invert = invert or value.strip("\"')").lower() in ("true", "1", "yes")
        elif flags and key not in _ASK_KEYS and key not in _NOT_KEYS and _head_kinds(key.replace("_", " ")) and \
                value.strip("\"'").lower() in _SETTINGS:  # a known thing's flag: "crack=false", {"taping": true}
            (asked if _SETTINGS[value.strip("\"'").lower()] else left_out).append(key.replace("_", " "))
        elif key in _ASK_KEYS or key in _NOT_KEYS:
            for w in re.split(r"""["'\[\],]+""", value):
                w = w.strip().replace("_", " ")
                signed = w[:1] == "!"
                w = w.lstrip("! ")
                if not re.search(r"[^\W\d_]", w) or w.lower() in _NO_VALUE or "=" in w:
                    continue  # nothing, a setting's value, a nested pair
                (left_out if (key in _NOT_KEYS) != signed else asked).append(w)
    if not asked and not left_out:  # nothing named: as typed ("invert=true" alone)
        return prompt
    if len(of) == 1 and asked:
        asked = [of[0] + " " + w for w in asked]  # "fabric seam"
    text = " and ".join(asked)
    if invert or (left_out and not asked):
        return "everything except " + " and ".join(asked + left_out)
    return text + (", not " + " or ".join(left_out) if left_out else "")


def dismissal_reading(prompt: str) -> str:
    """``prompt`` with what people write for a thing they do not want read as "ignore" (:data:`_LEAVE_ALONE`,
    :data:`_FORGET`, :data:`_DISMISSED`): "Leave the taping alone. Trace the crack" -> "ignore the taping. Trace
    the crack", "just cracks. seams dont matter" -> "just cracks. ignore seams", "the cracks are a separate job, show
    the joints" -> "ignore the cracks, show the joints", "the seams aren't the problem, the cracks are" -> "ignore the
    seams, show the cracks"; a label of what to leave out in a ticket (:data:`_LABEL_NOT`: "EXCLUDE: CRACKS" ->
    "ignore CRACKS"); a clause naming the thing wanted or not without a verb of asking (:data:`_WANTED`: "it's the
    cracks I'm after" -> "show the cracks", "It's the tape we want removed" -> "ignore the tape"); a user story without
    its role and reason (:data:`_STORY_ROLE`: "As an estimator I want ... so that ..." -> "I want ..."). As typed where
    only some of the thing is left out ("leave the small cracks alone, mark the big ones", "crack width doesn't matter",
    "cracks in the ceiling don't matter") and where the verb is no order ("don't ever forget the cracks", "I forget
    where the cracks are")."""
    def a_whole_thing(name: str, after: str, kinds: int = 1) -> bool:  # names things (of ``kinds`` kinds at most),
        name = _MASK_OF.sub("", name)  # "a mask of the tape is unnecessary": the tape is
        words = [w for w in TOKEN.findall(name.lower()) if w not in _CLAUSE_WORDS]  # all of them (or the work on them:
        while len(words) > 1 and words[-1] in _TASK_NOUNS:  # "cracks marking is not needed")
            words.pop()
        back = _POINTS_BACK.search(after)
        if back and back.group("rest") and all(w in ("the", "all", "any", "every") for w in words[:-1]):
            back = None  # "Cracks I don't want, the rest yes": the rest of the wall
        return bool(words) and words[-1] in CORE_KIND and len(_head_kinds(name)) <= kinds and \
            not any(w in _NOT_IN_A_NAME for w in words) and not back and \
            not any(w in _OF_A_THING or (w.endswith("ing") and w not in CORE_KIND) for w in words[:-1])

    def leave_alone(m: re.Match) -> str:  # "leave the cracks and the tape alone": both (a clause names one)
        name = (m.group(1) or m.group(2) or m.group(3) or m.group(4)).rstrip()
        before = TOKEN.findall(text[:m.start()].lower())[-2:]
        if any(w in ("dont", "never", "not", "t") for w in before) or (  # (TOKEN splits "don't" into "don", "t")
                m.group(1, 2) != (None, None) and name.split()[0].lower() in ("no", "none", "any", "nothing")):
            return m.group(0)  # "Don't let the cracks stay hidden", "Let no crack remain hidden": they are asked for
        return _as_typed(m.group(0), "ignore ") + name if a_whole_thing(name, text[m.end():], 2) else m.group(0)

    text = prompt
    role = _STORY_ROLE.match(text)
    if role and not _head_kinds(role.group(1)):  # "As a fleet manager I want ... so that ..." -> "I want ..." (not "As
        text = text[role.end():]  # a crack widens, I need it marked")
        reason = _STORY_REASON.search(text)
        if reason and _head_kinds(text[:reason.start()]):  # the reason names the thing where the want does not ("I
            text = text[:reason.start()] + text[reason.end():]  # want a mask so that the cracks are visible")
    text = _LABEL_NOT.sub(lambda m: m.group(1) + _as_typed(m.group(0)[len(m.group(1)):], "ignore "), text)

    def none_left(m: re.Match) -> str:  # "Leave no crack unmarked" -> "show crack"
        name = m.group(1).rstrip()
        return _as_typed(m.group(0), "show ") + name if a_whole_thing(name, "", 2) else m.group(0)

    text = _NONE_LEFT.sub(none_left, text)
    text = _LEAVE_ALONE.sub(leave_alone, text)

    def forget(m: re.Match) -> str:
        before = TOKEN.findall(re.split(r"[.,;:!?]", text[:m.start()])[-1].lower())
        after = TOKEN.findall(text[m.end():].lower())
        if (before and before[-1] not in _BEFORE_AN_ORDER) or (after and after[0] in _WH_WORDS) or \
                _POINTS_BACK.search(text[m.end():]):
            return m.group(0)
        return _as_typed(m.group(0), "ignore")

    text = _FORGET.sub(forget, text)

    def wanted(m: re.Match) -> str:  # "..., it's the cracks I'm after" -> "..., show the cracks"
        lead, name = m.group(1), m.group("name")
        if not _head_kinds(name):
            return m.group(0)
        unwanted = bool(m.group("unwanted")) != bool(m.group("neg") or m.group("isnt"))
        return lead + _as_typed(m.group(0)[len(lead):], "ignore " if unwanted else "show ") + name

    text = _WANTED.sub(wanted, text)
    if re.search(r"\bignore\b", text, re.IGNORECASE):  # "ignore the cracks, it's the tape" -> "..., show the tape"
        text = _AND_IT_IS.sub(lambda m: m.group(1) + "show " + m.group(2) if _head_kinds(m.group(2)) else m.group(0),
                              text)
    out, end = [], 0
    for m in _DISMISSED.finditer(text):
        if m.start() < end:
            continue
        name = m.group(2)
        lead = re.match(r"(?:(?:" + "|".join(_CLAUSE_WORDS) + r")\s+)*", name, re.IGNORECASE).group(0)
        name = name[len(lead):]
        if not a_whole_thing(name, text[m.end():]):
            continue
        if re.match(r"\s*(?:[,?]\s*)?[:\u2013\u2014-]", text[m.end(2):]) and \
                _head_kinds(name) & _head_kinds(text[m.end():]):
            continue  # a list of kinds: "Small cracks \u2013 ignore, big cracks \u2013 mark" leaves some of them out
        ignore = _as_typed(lead or name, "ignore ")
        if name[:1].isupper() and not name.split()[0].isupper():  # "The seams" first in a sentence
            name = name[0].lower() + name[1:]
        out.append(text[end:m.start()] + m.group(1) + lead + ignore + name)
        end = m.end()
        contrast = _CONTRAST.match(text, end + 1) if text[end:end + 1] == "," else None
        if contrast and (contrast.group(2) or re.match(r"\s*it", contrast.group(0), re.IGNORECASE)) and \
                _head_kinds(contrast.group(1)) and TOKEN.findall(contrast.group(1).lower())[0] not in _NOT_A_CONTRAST:
            # a thing ("it's the cracks", not "it's fine"; not "nor the tape")
            out.append(", show " + contrast.group(1))  # "..., the cracks are" asks for the cracks
            end = contrast.end()
        elif end < len(text) and not m.group(3):
            out.append(",")  # "ignore the seams, but the cracks do": a clause ends
    return "".join(out) + text[end:]


def plain_reading(prompt: str) -> str:
    """``prompt`` in the words the gate's rules know: hashtags as words ("#taping #seams", "#wall -#crack"), a word
    of address between commas left out ("Not the cracks, bud, the taped seams"), a mask's algebra in words
    ("mask(wall) - mask(crack)" -> "wall minus crack"), French "pas" and Spanish "sin" before their thing as "not" and
    "without", a Markdown table's rows as key: value pairs (:func:`_table_rows`), a list's items as clauses
    (:func:`_list_items`: "Items: 1) cracks \u2013 mark 2) seams \u2013 do not mark"), marks of yes and no as words
    ("\u2705 cracks \u274c tape" -> "cracks, not tape"), a program's string in words (:func:`structured_reading`), the
    trade's words (:func:`trade_reading`), what is not wanted as "ignore" (:func:`dismissal_reading`). Invisible
    format characters are read as nothing, as :func:`~drywallqa.text.prompts.normal_form` reads them ("n\u200bo
    cracks", a zero-width space pasted inside "no", is "no cracks"), and the marks typed for an apostrophe between
    letters as one (:data:`_APOSTROPHE_LIKE`: "don`t segment cracks" is "don't segment cracks")."""
    prompt = _APOSTROPHE_LIKE.sub("'", "".join(c for c in prompt if unicodedata.category(c) != "Cf"))
    text = _MASK_MINUS.sub(lambda m: f"{m.group(1)} minus {m.group(2)}" if m.group(1) else f" {m.group(3)} minus ",
                           _VOCATIVE.sub("", _HASHTAG.sub("", prompt)))
    text = _SPANISH_WITHOUT.sub("without ", _FRENCH_NOT.sub(r"\1not ", text))
    text = _list_items(_table_rows(text))
    if _NO_MARK.search(text) or _YES_MARK.search(text):
        # a mark of no before a thing is "not" ("Mark the cracks \U0001f6ab tape"); where a mark ends the prompt, each
        # follows its thing ("cracks \u274c tape \u2705", "cracks \u274c rest \u2705": the gate reads a mark of no after it)
        if not _MARK_LAST.search(text):
            text = _NO_MARK_BEFORE.sub(", not ", text)
        text = _YES_MARK.sub(", ", _NO_MARK_NO.sub(", ", text)).strip(" ,")  # a mark of yes, or one of no before
        # "no" or "not", is a comma
    return dismissal_reading(trade_reading(structured_reading(text)))


def _table_rows(text: str) -> str:
    """A Markdown table of two columns, each row a key and its value (a program's form: "| Include | Cracks | |
    Exclude | Taped seams |", its rows on one line: :func:`~drywallqa.text.prompts.one_line`), as "key: value" pairs
    ("Include: Cracks; Exclude: Taped seams"), or under a header of two keys each row's cells as their values ("|
    Target | Exclusion | | Drywall tape | Cracks |" -> "Target: Drywall tape; Exclusion: Cracks"), read as a program's
    pairs are (:func:`structured_reading`); as typed where anything else is there, or a row has another number of
    cells."""
    rows = _TABLE_ROW.findall(text)
    if not rows or _TABLE_ROW.sub("", text).strip(" ;|-:") or any(set(k + v) <= set("-: ") for k, v in rows[:1]):
        return text
    rows = [(k, v) for k, v in rows if not set(k + v) <= set("-: ")]  # (a "|---|---|" rule left out)
    keys = [re.sub(r"[\s-]+", "_", cell.lower()) for cell in rows[0]]
    if len(rows) > 1 and all(k in _ASK_KEYS or k in _NOT_KEYS for k in keys):  # a header naming the columns:
        return "; ".join(f"{rows[0][0]}: {a}; {rows[0][1]}: {b}" for a, b in rows[1:])  # "| Target | Exclusion |"
    return "; ".join(f"{k}: {v}" for k, v in rows)


def _list_items(text: str) -> str:
    """``text`` with the marks beginning a list's items as clause ends (:data:`_LIST_NUMBER`, :data:`_BULLET`,
    :data:`_DASHED_LABEL`): "Items: 1) wall finish 2) cracking \u2013 NOT to be marked" -> "Items: wall finish; cracking
    \u2013 NOT to be marked"."""
    def begins_a_list(mark: re.Pattern, least: int) -> bool:
        found = list(mark.finditer(text))
        if len(found) < least:
            return False
        before = text[:found[0].start()].rstrip()
        label = TOKEN.findall(before.lower())
        return not before or (before.endswith(":") and not any(w in _GOVERNING for w in label))
    out = _DASHED_LABEL.sub("; ", text)
    if begins_a_list(_LIST_NUMBER, 2):
        out = _LIST_NUMBER.sub("; ", out)
    if begins_a_list(_BULLET, 1):
        out = _BULLET.sub("; ", out)
    if out == text:
        return text
    return re.sub(r"^[;\s]+|(?<=:)\s*;", "", re.sub(r"(?:\s*;)+", ";", out)).strip()


def _as_typed(typed: str, reading: str) -> str:
    """``reading`` capitalised where ``typed`` is ("Gib" -> "Plasterboard"; "GIB" as a name -> "plasterboard")."""
    return reading.capitalize() if typed[:1].isupper() and not (len(typed) > 1 and typed.isupper()) else reading


def _trade_reading_once(prompt: str) -> str:
    text = prompt
    for pattern, reading in _TRADE_PHRASES:
        text = pattern.sub(lambda m, r=reading: _as_typed(m.group(0), r), text)
    if _SCRIM_CONTEXT.search(text) or not [w for w in TOKEN.findall(text.lower()) if w not in DETERMINERS
                                           and w not in ASKING and w != "scrim"]:
        text = _SCRIM.sub(lambda m: m.group(0) + " tape", text)
    text = _STOPPING.sub(lambda m: _stopping_reading(text, m), text)
    text = _BOARDS_MEET.sub(lambda m: ("at the " if _A_THING_BEFORE.search(text[:m.start()]) else "") +
                            f"joints between the {m.group(1)}", text)  # "cracks where the boards meet": a place
    words = list(re.finditer(r"[A-Za-z]+|[^\sA-Za-z]", text))
    out, end = [], 0
    for i, m in enumerate(words):
        low = m.group(0).lower()
        if low not in _JOIN_READINGS:
            continue
        before = words[i - 1].group(0).lower() if i else None
        if before is not None and not before.isalpha() and low in ("join", "joins"):
            before = None  # a clause begins: "leave out the cracks, joins only"
        after = words[i + 1].group(0).lower() if i + 1 < len(words) else None
        ends = after is None or after in PLACE_WORDS or not after.isalpha()  # "wall seems cracked" is a verb
        if before in ("the", "those", "these") or ((before in _BEFORE_A_JOIN or (
                before in _FINISHED and low in ("join", "joins"))) and ends) or (
                before is None and (after is None or after in PLACE_WORDS or (low in ("join", "joins") and after not in
                                                                               _JOIN_OBJECTS))):  # "joins, please";
            # not "Seems, at first glance, ..."
            reading = _JOIN_READINGS[low]
            out += [text[end:m.start()], reading.capitalize() if m.group(0)[0].isupper() else reading]
            end = m.end()
    return "".join(out) + text[end:]


def _head_kinds(text: str) -> set[str]:
    """The concepts whose head words (:data:`CORE_KIND`) ``text`` names."""
    return {CORE_KIND[w] for w in TOKEN.findall(text.lower()) if w in CORE_KIND}


def _stopping_reading(text: str, m: re.Match) -> str:
    """"taping" for the "stopping" of ``m`` where it names the work on a joint: after one of
    :data:`_BEFORE_STOPPING` (not as a place's thing after a crack: "crack through the stopping"), before one of
    :data:`_AFTER_STOPPING` ("stopping quality"), or first in its sentence with nothing, a place or "only" after it
    ("stopping on the joins", "For the QA log: stopping only."; not "Stopping by site today"); else as typed."""
    before = re.findall(r"\w+", re.split(r"[;:.!?(]", text[:m.start()])[-1])
    after = (re.match(r"[^\w;:.!?]*(\w+)?", text[m.end():]).group(1) or "").lower() or None
    if _A_CRACK_BEFORE.search(text[:m.start()]) and after is None:
        return m.group(0)  # "crack through the stopping", "cracks in the stopping": the place of a crack, as typed
    if (before and before[-1].lower() in _BEFORE_STOPPING) or after in _AFTER_STOPPING or (
            not before and (after is None or (after in PLACE_WORDS | ONLY and after not in ("by", "at")))):
        return "Taping" if m.group(0)[0].isupper() else "taping"
    return m.group(0)
