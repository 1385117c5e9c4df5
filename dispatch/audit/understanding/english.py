"""English cues, negators, keys said as words, fillers and contractions."""

from __future__ import annotations

import re

from dispatch.audit.understanding.cues import (
    _ANY,
    _CLAIMS,
    _HEDGE,
    _NEUTRAL,
    _OFF,
    _PRESENCE,
    _RATING,
    _VAGUE,
    _WORK,
    _YES_NO,
    CONFIRM,
    DENY,
    NOT_SATISFIED,
    RESCHEDULE,
    SATISFIED,
    VERY_SATISFIED,
    _cues,
)
from dispatch.platform.languages import ENGLISH

_I = (
    r"(?:i|we|me|my wife|my husband|somebody|someone|one of us|my family|the whole family|everyone|all of us"
    r"|my (?:son|daughter|mother|father|mum|mom|dad|partner))"
)


_THEY = (
    r"(?:they|he|she|the technician|the engineer|the installer|the plumber|the guy|the man|the worker"
    r"|the repairman|anyone|anybody|your (?:technician|guy|man|people)|the service|the company|somebody|someone)"
)


_COME = r"(?:came|come|show|showed|shown|turn|turned|arrive|arrived|visit|visited|call|called|knock|knocked|ring|rang|make it|bother|bothered)"


_NOBODY = r"(?:nobody|no one|no body|noone|not one person|not a single (?:person|soul)|not anyone|no technician|no engineer|none of them)"


_HOME = r"(?:home|at home|in|here|there|around|in the house|at the house|in all day|here all day)"


_DONE = (
    r"(?:done|finished|complete|completed|installed|fixed|repaired|sorted|sorted out|working|works"
    r"|work fine|running|set up|hooked up|taken care of)"
)


_EN_CUES = _cues(
    ENGLISH,
    [
        # Idioms that hold a cue word or a negation but answer nothing.
        (
            r"no problems?|no issues?|no worries|not a problem|no hurry|right now|right away|right on time|right here"
            r"|right (?:by|next to|at|outside|inside|in front of) (?:the|my|our) \w+|nothing left to do"
            r"|forgot (?:all )?about (?:it|the appointment|the visit)|no complaints(?: since)?"
            r"|all right|alright|correct me if i am wrong|if i am not wrong|if i am not mistaken|not to worry"
            r"|thank you|thanks|hello|hi|sorry|excuse me|never mind|no offence|no offense|i do not mind|not at the moment",
            _NEUTRAL,
            _ANY,
        ),
        # Questions back, wrong party, a person wanted: ask again / hand over.
        (
            r"who is (?:this|it|calling|speaking)|who are you|what is this|what do you mean|pardon me"
            r"|repeat|say (?:that|it) again|come again|speak to (?:a|an|the|someone|somebody)|talk to (?:a|an|the|someone|somebody)"
            r"|a (?:real )?(?:person|human)|operator|representative|an agent|wrong number|not (?:the|a) customer"
            r"|call (?:me|back) later|busy right now|i am busy|can you hear me|stop calling",
            _OFF,
            _ANY,
        ),
        # Hedges: a careful person asks again.
        (
            r"i (?:think|guess|suppose|believe|reckon) so|i (?:think|guess|suppose|believe|reckon)|maybe|perhaps"
            r"|probably|possibly|might|may be|kind of|kinda|sort of|more or less|not (?:really|exactly|quite|sure|certain)"
            r"|do not know|dunno|no idea|(?:can not|could not|do not) (?:remember|recall|say|tell)|hard to say"
            r"|i forget|forgot|as far as i know|i am not sure|unsure|not sure|if i remember|i would say|hopefully|partly|partially"
            r"|sometimes|somewhat|i hope|not not|not (?:untrue|false|wrong|incorrect)|no one came to the door"
            r"|nobody came to the door|no show|no-show"
            # Sarcasm: "oh sure, nobody home, I only sat by the door all day".
            r"|oh sure|yeah right|oh yeah|as if|for fun|what a joke|very funny|give me a break",
            _HEDGE,
            _ANY,
        ),
        # Ratings (only the rating question); the most specific first.
        (
            r"not very (?:satisfied|happy|pleased|good)|not (?:un|dis)satisfied|not unhappy|not bad|not terrible"
            r"|not too bad|not so bad|could be better|could have been better|so so|so-so|average|mixed|okay i guess",
            _HEDGE,
            _RATING,
        ),
        (r"fine|it was fine|all good", _VAGUE, _RATING),
        (
            r"(?:very|really|extremely|totally|completely|so|quite|pretty|super) (?:un|dis)satisfied"
            r"|(?:very|really|extremely|so|pretty|quite) (?:unhappy|bad|poor|disappointed|disappointing|angry|upset)"
            r"|not (?:at all )?(?:satisfied|happy|pleased|good|great|ok|okay|fine|good at all)"
            r"|(?:satisfied|happy) not at all|unsatisfied|dissatisfied|unhappy|disappointed|disappointing"
            r"|terrible|awful|horrible|poor|bad|worst|useless|rubbish|angry|furious|upset",
            NOT_SATISFIED,
            _RATING,
        ),
        (
            r"(?:very|really|extremely|totally|completely|super|truly|very very|more than|highly) (?:satisfied|happy|pleased)"
            r"|very good|very well|excellent|perfect|fantastic|great|amazing|wonderful|outstanding|superb|brilliant"
            r"|awesome|the best|five stars|100 percent|one hundred percent|couldn t be better|could not be better|love it"
            r"|top notch|first class|(?:satisfied|happy|pleased) \|? ?very(?: much)?"
            r"|could not be (?:happier|better|more (?:satisfied|pleased))",
            VERY_SATISFIED,
            _RATING,
            True,
        ),
        (
            r"(?:quite|fairly|reasonably|pretty|mostly|generally)? ?(?:satisfied|happy|pleased|content)|good|ok|okay"
            r"|decent|fair|reasonable|it was ok|acceptable|nice",
            SATISFIED,
            _RATING,
            True,
        ),
        # Presence (the not-home question): the specific phrases before "nobody ..." and "home".
        (
            rf"{_I} (?:was|were) not (?:out|away|gone)"
            rf"|{_I} (?:was|were) (?:sitting|standing|waiting) (?:right )?(?:by|at|in|here|there|inside)",
            DENY,
            _PRESENCE,
        ),
        (
            rf"{_I} (?:was|were|am|are) (?:not|never) {_HOME}|{_I} (?:was|were) (?:out|away|at work|working"
            r"|on holiday|on vacation|travell?ing|out of town|out all day|not around|gone|at the hospital|at the shops)"
            r"|(?:nobody|no one|noone|no body) (?:was|is|were) (?:home|at home|in|there|around|in the house)"
            r"|(?:nobody|no one|noone) home|not (?:at )?home|(?:we|i) (?:had to )?(?:go|went|stepped|popped) out"
            r"|(?:i|we) missed (?:him|them|her|the technician|the visit|the call)|empty house|house was empty"
            r"|nobody answered the door|no one answered the door|did not (?:hear|answer) the door",
            CONFIRM,
            _PRESENCE,
        ),
        (
            rf"{_I} (?:was|were|am|have been|had been|has been|stayed|waited|sat) (?:at )?(?:home|here|in|there|in the house|in all day)"
            rf"|{_I} (?:was|were) (?:waiting|in all day|at home all day|home all day)|waited (?:all|the whole) (?:day|morning|afternoon)"
            r"|(?:someone|somebody) was (?:home|in|there)|i (?:never|did not) (?:go|went|leave|left)(?: out| the house)?"
            r"|all day at home|home all day|here all day|in all day|the whole day|the whole time|all the time",
            DENY,
            _PRESENCE,
        ),
        # Nobody came: denies every claim.
        (
            rf"{_NOBODY} (?:ever |has |had |even |actually |at all )?(?:{_COME}|up|was here|has been|have been|showed up|turned up)"
            rf"|{_THEY} (?:did not|never|has not|have not|had not|does not|do not|would not|could not) (?:even |ever |actually )?(?:{_COME}|show up|turn up)"
            r"|never (?:came|come|showed|turned up|arrived|appeared|got here)|stood (?:me|us) up"
            r"|(?:did not|never) see (?:anyone|anybody|a technician|them|him)|not a soul|still waiting|waiting for them",
            DENY,
            _CLAIMS,
        ),
        # The work done or not (completed / status check).
        (
            r"(?:still|it is still|it is) (?:broken|leaking|not working|dripping|cold|faulty)|still (?:no|not) (?:hot water|working)"
            r"|(?:only|just) (?:half|partly|partially)|(?:only|just) (?:did|done|finished) half|half of it|half done|half finished"
            r"|(?:left|went) without (?:finishing|fixing|installing)|broke (?:down )?(?:again)?|broken again|stopped working"
            r"|not (?:yet )?(?:done|finished|complete|completed|installed|fixed|repaired|working)|not yet|does not work|did not work"
            r"|(?:did not|never|could not|have not|has not|had not) (?:finish|fix|install|repair|complete|do|get)"
            r"(?: (?:it|the job|the work|anything|the installation))?",
            DENY,
            _WORK,
        ),
        (
            rf"(?:it|the work|the job|the installation|the heater|the boiler|everything|all|that|they|he|she|it all)"
            rf" (?:is |was |has been |got |were |are )?(?:all )?{_DONE}|all {_DONE}|{_DONE}|(?:they|he|she) (?:did|finished|completed|installed|fixed|repaired) (?:it|the job|the work|everything)"
            r"|(?:got|have) hot water|hot water now|it works fine",
            CONFIRM,
            _WORK,
            True,
        ),
        # Rescheduling.
        (
            r"(?:asked|wanted|called|phoned|rang|told them|requested|arranged) (?:them |him |her |you )?(?:to )?(?:change|move|reschedule|postpone|delay|put off|push back)"
            r"|(?:changed|moved|rescheduled|postponed|delayed|put off|pushed back) (?:the |my |our )?(?:time|date|appointment|visit|day|it|booking)"
            r"|reschedul\w*|postpon\w*|another (?:day|time|date)|different (?:day|time|date)|(?:change|move) (?:the |my )?(?:time|date|appointment)"
            r"|new (?:time|date|appointment)|later date|come (?:back )?(?:another|a different|next) (?:day|time|week)"
            r"|(?:pushed|put|moved) (?:it |the visit |the appointment )?(?:back|off|forward)",
            RESCHEDULE,
            _CLAIMS,
            True,
        ),
        # Plain agreement and disagreement.
        (
            r"not what happened|(?:that|it|this) (?:did not|never) happen(?:ed)?|did not happen|never happened|absolutely not"
            r"|of course not|not at all|definitely not|certainly not|no way|no chance|not true|not correct|not right"
            r"|incorrect|untrue|false|wrong|(?:a|that is a|total|complete) lie|lie|lies|lying|liars?|nonsense|rubbish|bullshit|made (?:it|that) up|no|nope|nah|negative",
            DENY,
            _YES_NO,
        ),
        (
            r"yes|yeah|yea|yep|yup|ya|yah|aye|sure|of course|indeed|exactly|absolutely|definitely|correct|right|true"
            r"|that is (?:right|correct|true|so|it)|i confirm|confirm|confirmed|affirmative|uh huh|mm hmm|mhm|precisely"
            r"|accurate|agreed|that is what happened|that happened",
            CONFIRM,
            _YES_NO,
            True,
        ),
    ],
)


_EN_NEGATORS = re.compile(
    r"(?<![a-z0-9_])(?:not|no|never|nobody|noone|none|nothing|neither|nor|nope|nah|without|hardly|barely)(?![a-z0-9_])"
)


_EN_KEY = re.compile(
    r"^(?:(?:i |i will |i ll |i d |let me )?(?:press|pressed|pressing|choose|pick|select|say)? ?(?:number|option|key|button|choice)? ?)"
    r"(one|two|three|1|2|3)(?: please)?$"
)


_EN_KEYS = {"one": "1", "two": "2", "three": "3", "1": "1", "2": "2", "3": "3"}


_EN_FILLERS = re.compile(
    r"(?<![a-z0-9_])(?:um+|uh+|er+m?|hm+|ah+|oh+|well|like|so|okay so|you know|i mean|actually|just|erm|hmm+|mm)(?![a-z0-9_])"
)


_EN_CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"n't"), " not"),
    # Texts often drop the apostrophe: "dont", "wasnt", "didnt".
    (re.compile(r"\b(is|was|were|are|do|does|did|has|have|had|could|would|should|must|need)nt\b"), r"\1 not"),
    (re.compile(r"\bdont\b"), "do not"),
    (re.compile(r"\b(?:cant|cannot)\b"), "can not"),
    (re.compile(r"\bwont\b"), "will not"),
    (re.compile(r"'s\b"), " is"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'d\b"), " would"),
]
