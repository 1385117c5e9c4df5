"""What the customer said, read as a careful person on the callback team would. Pure, no database.

A spoken answer (Twilio's SpeechResult) or a free-text SMS reply is read for one question: the
provider's claim (not home, completed, status check, another reason, customer rescheduled) or the
rating. The result is an *intent* (confirm, deny, reschedule; or a rating) or `unclear`.

How it reads, in order:
1. Keys first: a bare key said as a word ("two", "number three", "按二") means that key.
2. Phrases are matched most specific first and each match is masked, so "nobody was home"
   (agrees with "customer not home") is never read as "nobody came", "no one" never as key 1,
   "没错" (correct) never as a negation, "不好意思" (excuse me) never as "不" (no).
3. A confirming cue with a negation in its scope ("not right", "isn't true", "不对") denies; a
   negation left over anywhere (one no phrase explained) means the answer cannot confirm.
4. Hedges ("I think so", "maybe", "好像"), questions back ("who is this?", "什么？"), cues of
   another topic, and conflicting cues ("yes, but nobody showed up") make the answer unclear.

Only an unambiguous answer yields an intent; everything else is unclear, and unclear is never a
verdict (the robot asks again by keys, then the callback moves on). A recogniser confidence
below the configured floor is unclear too. Each reading names the cue that decided it (evidence
kept with the attempt, for a supervisor auditing the robot).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

CONFIRM = "confirm"
DENY = "deny"
RESCHEDULE = "reschedule"
NOT_RESCHEDULE = "not_reschedule"
UNCLEAR = "unclear"
VERY_SATISFIED = "very_satisfied"
SATISFIED = "satisfied"
NOT_SATISFIED = "not_satisfied"

# Questions the robot asks (the menu kinds of dispatch.telephony.twiml, plus the rating).
QUESTIONS = ("not_home", "completed", "status_check", "other_reason", "customer_rescheduled", "rating")

from dispatch.platform.languages import ENGLISH, LANGUAGES, MANDARIN  # noqa: E402  (re-exported)

# Cue kinds beyond the intents.
_HEDGE = "hedge"  # makes any answer unclear
_OFF = "off_topic"  # a question back, a wish to talk to a person: unclear
_NEUTRAL = "neutral"  # masked and ignored (fillers, politeness, idioms holding a negation)
_VAGUE = "vague"  # a rating without a level ("fine", "还行"): unclear alone, gives way to a level

# Topics: which questions a cue belongs to; a cue of another topic makes the answer unclear.
_CLAIMS = frozenset(QUESTIONS) - {"rating"}
_PRESENCE = frozenset({"not_home"})
_WORK = frozenset({"completed", "status_check"})
_RATING = frozenset({"rating"})
# Plain yes and no (marked bare): they answer a yes-or-no question, but the status check asks
# which of three things happened, so there they only count beside a cue that says which.
_YES_NO = frozenset({"yes_no"})  # a marker, read as _CLAIMS with bare=True
_ANY = frozenset(QUESTIONS)


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    intent: str
    topics: frozenset[str]
    negatable: bool = False  # a negation in scope turns a confirming cue into a denial
    bare: bool = False  # a plain yes or no: alone, it cannot answer "which of these happened?"


def _cues(lang: str, rows: list[tuple[Any, ...]]) -> list[_Cue]:
    out = []
    for row in rows:
        pattern, intent, topics = row[0], row[1], row[2]
        negatable = bool(row[3]) if len(row) > 3 else False
        bare = topics == _YES_NO
        topics = _CLAIMS if bare else topics
        if lang == ENGLISH:
            regex = re.compile(rf"(?<![a-z0-9_])(?:{pattern})(?![a-z0-9_])")
        else:
            regex = re.compile(pattern)
        out.append(_Cue(regex, intent, topics, negatable, bare))
    return out


# --- English ------------------------------------------------------------------------------------

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

# --- Mandarin ------------------------------------------------------------------------------------

_ZH_CUES = _cues(
    MANDARIN,
    [
        (
            r"不好意思|没关系|没问题吧|没什么问题|没啥问题|没有什么问题|不客气|不用谢|谢谢|你好|您好|喂|对不起|不过|不然",
            _NEUTRAL,
            _ANY,
        ),
        (
            r"你是谁|您是哪位|是哪位|是谁|你说什么|说的什么|再说一遍|再说一次|重复|听不清|没听清|没听懂|听不懂|转人工|人工|客服|打错了"
            r"|找谁|你说什么|骗子|诈骗|等一下|等等|稍等|在忙|忙着|晚点打|回头再说",
            _OFF,
            _ANY,
        ),
        (
            r"好像|可能|也许|大概|应该|估计|似乎|差不多|不一定|不知道|不清楚|不太清楚|不记得|记不清|记不得|忘了|不确定|说不好|说不准"
            r"|我觉得|我想|我猜|感觉|(?<!错了)吧(?=\||$)|吗(?=\||$)|部分|不是没|不是不|没有不|不会不|呵呵|哈哈|真行|可真是"
            r"|是不是|对不对|行不行|可不可以|有没有",  # questions back
            _HEDGE,
            _ANY,
        ),
        (
            r"不是很满意|不太满意|不算满意|不怎么满意|不是特别满意|不是非常满意|不很满意|还可以吧|一般般|一般|不好不坏"
            r"|(?<![非特十超极相真])很满意",
            _HEDGE,
            _RATING,
        ),
        (r"还行|还可以|可以|不错|凑合|还凑合|马马虎虎|好的|(?:^|\|)好(?=\||$)", _VAGUE, _RATING),
        (
            r"(?:非常|很|特别|十分|太|超级|极其)不满意|不满意|不满|很差|太差|非常差|特别差|差劲|很糟|糟糕|太糟|垃圾|失望|很失望|生气|态度差|态度不好"
            r"|不好|不行|差(?!不多)",
            NOT_SATISFIED,
            _RATING,
        ),
        (
            r"(?:非常|很|特别|十分|太|超级|极其|相当|真|真的很|真的非常)+满意|满分|五星|完美|非常好|特别好|太好了|很好|好极了|棒极了|很棒|非常棒|太棒了|一百分|好得不能再好|再好不过",
            VERY_SATISFIED,
            _RATING,
            True,
        ),
        (
            r"(?:还|挺|比较|基本|算|蛮|还算|还挺)?满意|挺好|还好",
            SATISFIED,
            _RATING,
            True,
        ),
        # Presence (not-home question): before "在家" and before the negations.
        (
            r"没出门|没有出门|没出去|没有出去|没离开|没有离开|哪儿?(?:都|也)没去|哪里(?:都|也)没去",
            DENY,
            _PRESENCE,
        ),
        (
            r"(?:我|我们|家里|家人)?(?:不在家|没在家|不在|没在)|家里(?:确实|真的|的确)?没(?:有)?人|家里没有|没人在家|没有人在家|屋里没人|家中无人"
            r"|家里一个人(?:都|也)没有|一个人(?:都|也)不在"
            r"|出去了|出门了|出门|外出|出差|上班|在公司|在外面|不在屋|错过了|错过|没听到敲门|没听见敲门|没人开门|没有人开门",
            CONFIRM,
            _PRESENCE,
        ),
        (
            r"(?:我|我们|家里|家人)?(?:一直|都|整天|全天|一整天|一天)?(?:在家|在屋里|在这|在里面)|家里有人|有人在家|等了(?:一|整|半)?(?:天|上午|下午|整天)"
            r"|一直等|一直在|等了好久|在家等",
            DENY,
            _PRESENCE,
        ),
        # Nobody came.
        (
            r"(?:一个人|一个师傅|师傅|人|谁)?(?:都|也|根本|从来|压根|完全)?(?:没有|没|未)(?:有)?(?:人)?(?:来|上门|过来|出现|到|见到人|看到人|见人|见到师傅|看到师傅|见着人|打电话)"
            r"|没人来|没有人来|谁也没来|谁都没来|放鸽子|爽约|没见人|没看见人|人没来|师傅没来|没有来过|没来过",
            DENY,
            _CLAIMS,
        ),
        # The work done or not ("没有" alone, asked whether the work was done, says it was not).
        (r"(?:^|\|)(?:还)?(?:没有|没)(?:呢)?(?=\||$)", DENY, frozenset({"completed"})),
        (
            r"没做完|没有做完|没完成|没有完成|未完成|没装好|没有装好|没修好|没有修好|没弄好|没有弄好|没装|没修|还没好|还没有好|没好|没有好"
            r"|不能用|用不了|还是坏|还坏|坏的|又坏|坏了|还在漏|还漏|漏水|修不好|没做|没有做|还没(?:装|修|弄|做)|不热|没热水|没有热水"
            r"|不出热水|(?:只)?(?:修|做|装|弄)了一半|一半就走",
            DENY,
            _WORK,
        ),
        (
            r"做完了|做好了|完成了|已完成|已经完成|装好了|安装好了|安装完了|修好了|弄好了|搞定了|装完了|修完了|好了|可以用了|能用了|正常了"
            r"|没问题了|都好了|完工了|完工|有热水了|热水有了|装上了|弄完了|修好|装好|弄好|做好",
            CONFIRM,
            _WORK,
        ),
        # Rescheduling.
        (
            r"(?:把)?时间改了|改(?:了|一下|的)?(?:时间|日子|日期)|改期|换(?:个|了|一个)?时间|改约|另约|推迟|延期|改天|改到|换(?:一|个|了)?天|另外约|约了别的时间|重新约|往后推|改日|改了日子|换了日子|调(?:了|一下)?时间|挪(?:了|到)",
            RESCHEDULE,
            _CLAIMS,
            True,
        ),
        # Plain agreement and disagreement.
        (
            r"搞错了|弄错了|搞错|弄错|不是这样|不是的|不是|不对|不正确|不属实|不准确|不真实|错了|错的|瞎说|胡说|胡扯|乱说|撒谎|说谎|骗人|假的|没有的事|没这回事|根本不是|才不是|(?:^|\|)不+(?=\||$)",
            DENY,
            _YES_NO,
        ),
        (
            r"是的|是啊|是呀|是呢|对的|对啊|对呀|对了|没错|正确|属实|确实|确认|当然|是这样|就是这样|准确|真的|(?:^|\|)(?:是|对|嗯对|对对|是是)+(?=\||$)|(?:^|\|)(?:是|对)(?=[，,])",
            CONFIRM,
            _YES_NO,
            True,
        ),
    ],
)
_ZH_NEGATORS = re.compile(r"[不没未别无非莫勿]")
_ZH_KEY = re.compile(r"^(?:我)?(?:按|选|选择|是|要|摁)?(?:数字|第)?(一|二|两|三|1|2|3)(?:号|个|下|键)?$")
_ZH_KEYS = {"一": "1", "二": "2", "两": "2", "三": "3", "1": "1", "2": "2", "3": "3"}
_ZH_FILLERS = re.compile(r"[嗯呃啊哦哎唉呀哈额诶欸]|那个|这个|就是说|然后")
_CJK = re.compile(r"[\u4e00-\u9fff]")


_FOREIGN = "foreign"  # plan mode: a cue of a topic the question did not ask about
_OWN = "own"


def _plan(cues: list[_Cue], question: str) -> list[tuple[_Cue, str]]:
    """The cues to try for one question, in order: universal, its own, others (see read)."""
    kinds = (_NEUTRAL, _OFF, _HEDGE, _VAGUE)
    universal = [(c, c.intent) for c in cues if c.intent in kinds and question in c.topics]
    own = [(c, _OWN) for c in cues if c.intent not in kinds and question in c.topics]
    if question == "rating":
        # "Very satisfied, it's still broken": the broken heater speaks against the rating.
        against = [
            (c, NOT_SATISFIED)
            for c in cues
            if c.intent == DENY and c.topics in (_WORK, _CLAIMS) and not c.bare
        ]
        return universal + against + own
    foreign = [(c, _FOREIGN) for c in cues if c.topics in (_PRESENCE, _WORK) and question not in c.topics]
    # Rating words in a claim's answer ("yes it was done, very satisfied") are masked last, so that
    # "好" never eats "修好了".
    # Only the approving ones: "not satisfied" keeps its negation, so "done, all not good" is no yes.
    rating = [
        (c, _NEUTRAL) for c in cues if c.topics == _RATING and c.intent in (VERY_SATISFIED, SATISFIED, _VAGUE)
    ]
    return universal + own + foreign + rating


_PLANS = {
    (lang, q): _plan(cues, q) for lang, cues in ((ENGLISH, _EN_CUES), (MANDARIN, _ZH_CUES)) for q in QUESTIONS
}
# "..., sorry, I mean X" / "……不对，我是说X": what follows the correction is the answer.
_SELF_CORRECTION = {
    ENGLISH: re.compile(
        r"(?:^|\|| )(?:sorry|no|wait|oops|i mean)[ |]*(?:i mean|i meant|make that)[ |]+(.+)$"
    ),
    MANDARIN: re.compile(r"(?:不对|不是|错了)?[|]?(?:我是说|我的意思是|应该说)[|]?(.+)$"),
}
# Whole answers that are a question back.
_WHAT = {
    ENGLISH: frozenset({"what", "pardon", "sorry", "huh", "eh", "excuse me", "what was that", "who"}),
    MANDARIN: frozenset({"什么", "啥", "谁", "哪位", "喂"}),
}


@dataclass(frozen=True)
class Reading:
    """One answer read: its intent (or unclear), the cue that decided, and the evidence."""

    intent: str
    cue: str
    text: str | None = None
    confidence: float | None = None
    language: str = ENGLISH
    input: str = "speech"
    cues: tuple[str, ...] = field(default=())

    @property
    def clear(self) -> bool:
        """Whether the answer can be acted on (anything else is asked again, never a verdict)."""
        return self.intent != UNCLEAR

    def evidence(self, question: str, result: str | None) -> dict[str, Any]:
        """What to keep with the attempt: what was heard, how sure, how it was read, what it became."""
        return {
            "question": question,
            "input": self.input,
            "text": self.text,
            "confidence": self.confidence,
            "language": self.language,
            "reading": f"{self.intent}: {self.cue}",
            "result": result,
        }


def language_of(text: str, default: str = ENGLISH) -> str:
    """The language a reply is written in (Chinese characters: Mandarin), else `default`."""
    return MANDARIN if _CJK.search(text or "") else (default if default in LANGUAGES else ENGLISH)


def _normalise_en(text: str, *, fillers: bool = True) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    for regex, repl in _EN_CONTRACTIONS:
        text = regex.sub(repl, text)
    text = re.sub(r"[.,;:!?…\-–—()\"]+", " | ", text)
    text = re.sub(r"[^a-z0-9| ]+", " ", text)
    if fillers:
        text = _EN_FILLERS.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip(" |")


def _normalise_zh(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[。，,.;；:：!！?？、…~～\s\-—()（）\"“”]+", "|", text)
    text = _ZH_FILLERS.sub("", text)
    text = re.sub(r"\|+", "|", text)
    return text.strip("|")


def _bare_key(norm: str, lang: str) -> str | None:
    plain = norm.replace("|", " " if lang == ENGLISH else "").strip()
    plain = re.sub(r"\s+", " ", plain)
    if lang == ENGLISH:
        # "two two", "one, one" (repetition) still count as one key.
        words = plain.split()
        if words and len(set(words)) == 1 and words[0] in _EN_KEYS:
            return _EN_KEYS[words[0]]
        match = _EN_KEY.match(plain)
        return _EN_KEYS[match.group(1)] if match else None
    if plain and len(set(plain)) == 1 and plain[0] in _ZH_KEYS:
        return _ZH_KEYS[plain[0]]
    match = _ZH_KEY.match(plain)
    return _ZH_KEYS[match.group(1)] if match else None


def _negations_before(masked: str, start: int, lang: str) -> list[re.Match[str]]:
    """The negations standing just before position `start` in the same clause."""
    clause_start = masked.rfind("|", 0, start) + 1
    if lang == ENGLISH:
        found = _EN_NEGATORS.finditer(masked, clause_start, start)
        return [m for m in found if len(masked[m.end() : start].split()) < 3]  # within three words
    return list(_ZH_NEGATORS.finditer(masked, max(clause_start, start - 4), start))  # four characters


def read(
    text: str | None,
    question: str,
    *,
    language: str | None = None,
    confidence: float | None = None,
    floor: float = 0.0,
    input: str = "speech",
) -> Reading:
    """Read one answer to `question` (a claim kind or "rating"); unclear unless unambiguous."""
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}")
    raw = (text or "").strip()
    lang = language_of(raw, language or ENGLISH)

    def reading(intent: str, cue: str, cues: tuple[str, ...] = ()) -> Reading:
        return Reading(intent, cue, raw or None, confidence, lang, input, cues)

    if not raw:
        return reading(UNCLEAR, "nothing heard")
    if input == "speech" and (confidence is None or confidence < floor):
        shown = "none" if confidence is None else f"{confidence:.2f}"
        return reading(UNCLEAR, f"recogniser confidence {shown} below {floor:.2f}")
    norm = _normalise_en(raw) if lang == ENGLISH else _normalise_zh(raw)
    key = _bare_key(norm, lang)
    if key is not None:
        return reading(f"key:{key}", f"key {key} said")

    if norm.replace("|", " ").strip() in _WHAT[lang]:
        return reading(UNCLEAR, f"off the question: '{raw}'")
    corrected = _SELF_CORRECTION[lang].search(_normalise_en(raw, fillers=False) if lang == ENGLISH else norm)
    if corrected and corrected.group(1).strip("| "):
        # "one, sorry, I mean two", "非常满意……不对，我是说满意": the last word stands.
        again = read(corrected.group(1), question, language=lang, input="text")
        return Reading(again.intent, f"corrected to {again.cue}", raw, confidence, lang, input, again.cues)

    masked = norm
    found: list[tuple[int, str, str, bool]] = []  # (where, intent, the words, a bare yes/no)
    pad = " " if lang == ENGLISH else "_"
    for cue, mode in _PLANS[lang, question]:
        while (match := cue.pattern.search(masked)) is not None and match.group(0).strip("| _"):
            start, words, intent = match.start(), match.group(0).strip("| "), cue.intent
            if mode == _FOREIGN:
                # About something the question did not ask (being home, when asked whether the
                # work was done): a careful person asks again.
                intent, words = _OFF, f"{words}' (not asked)"
            elif mode in (_NEUTRAL, NOT_SATISFIED):
                intent = mode
            elif mode == _OWN and cue.negatable:
                negations = _negations_before(masked, start, lang)
                if negations:
                    # "not right" denies, "谈不上满意" is not satisfied; "not very satisfied" and a
                    # double negation ("不我没改") are unclear.
                    negated = {CONFIRM: DENY, RESCHEDULE: NOT_RESCHEDULE, SATISFIED: NOT_SATISFIED}
                    intent = negated.get(intent, UNCLEAR) if len(negations) == 1 else UNCLEAR
                    start = negations[0].start()  # the negation is explained: masked with its cue
                    words = masked[start : match.end()].strip("| _")
            found.append((start, intent, words, cue.bare))
            masked = masked[:start] + pad * (match.end() - start) + masked[match.end() :]
    found.sort()
    cues = tuple(f"{intent} '{words}'" for _, intent, words, _ in found if intent != _NEUTRAL)
    stray = (_EN_NEGATORS if lang == ENGLISH else _ZH_NEGATORS).search(masked)
    for kind, label in ((_OFF, "off the question"), (_HEDGE, "hedged")):
        hits = [w for _, i, w, _ in found if i == kind]
        if hits:
            return reading(UNCLEAR, f"{label}: '{hits[0]}'", cues)
    if "?" in raw or "？" in raw:
        return reading(UNCLEAR, "said as a question", cues)
    meaningful = [f for f in found if f[1] != _NEUTRAL]
    if question == "status_check" and meaningful and all(f[3] for f in meaningful):
        return reading(UNCLEAR, "a plain yes or no to a question of three choices", cues)
    said = [(i, w) for _, i, w, _ in found if i not in (_NEUTRAL, _VAGUE)]
    if not said and any(f[1] == _VAGUE for f in found):
        return reading(UNCLEAR, "a rating without a level", cues)
    if question == "customer_rescheduled":
        said = [(DENY if i == NOT_RESCHEDULE else i, w) for i, w in said]
    else:
        said = [(i, w) for i, w in said if i != NOT_RESCHEDULE]  # "I did not move it" answers nothing
    intents = {i for i, _ in said}
    if UNCLEAR in intents:
        return reading(UNCLEAR, "a double negation", cues)
    if not intents:
        return reading(
            UNCLEAR, "a negation with nothing it answers" if stray else "no answer recognised", cues
        )
    if (
        RESCHEDULE in intents
        and intents <= {RESCHEDULE, CONFIRM, DENY}
        and question != "customer_rescheduled"
    ):
        # "No, that's not right, I changed the appointment", "nobody came because I moved it":
        # the customer explains the claim by their own reschedule (never a confirmation).
        intents = {RESCHEDULE}
    if intents == {VERY_SATISFIED, SATISFIED} and said[0][0] != said[-1][0]:
        # "满意，非常满意", "satisfied... very satisfied": the level said last is the answer.
        intents = {said[-1][0]}
    if len(intents) > 1:
        return reading(UNCLEAR, "conflicting cues: " + "; ".join(cues), cues)
    intent = intents.pop()
    decided = next(w for i, w in reversed(said) if i == intent)
    if stray and intent in (CONFIRM, VERY_SATISFIED, SATISFIED):
        # A negation no phrase explained ("yes ... not", "right, no"): it cannot be a yes.
        return reading(UNCLEAR, f"'{decided}' with a stray negation '{stray.group(0)}'", cues)
    return reading(intent, f"'{decided}'", cues)


def key_pressed(key: str) -> Reading:
    """A key pressed on the phone (DTMF): it means what the menu says, in every language."""
    return Reading(f"key:{key}", f"key {key} pressed", key, None, ENGLISH, "dtmf")
