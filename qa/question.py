"""What a question asks for: its expected answer type and its key terms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text import content_terms

PERSON, DATE, DURATION, NUMBER, AGE, PLACE, ORGANIZATION, REASON, OTHER = (
    "person", "date", "duration", "number", "age", "place", "organization", "reason", "other")

# spaCy entity labels that can answer each type.
ENTITY_LABELS = {
    PERSON: {"PERSON"},
    DATE: {"DATE"},
    DURATION: {"DATE"},
    NUMBER: {"CARDINAL", "MONEY", "QUANTITY", "PERCENT"},
    AGE: {"DATE", "CARDINAL"},
    PLACE: {"GPE", "LOC", "FAC"},
    ORGANIZATION: {"ORG"},
}

_PERSON_NOUNS = (
    "person|man|woman|deputy|minister|president|prime minister|spokesman|spokeswoman|spokesperson|leader|official|"
    "analyst|expert|ambassador|diplomat|chairman|chairwoman|chair|secretary|envoy|general|journalist|author|politician|"
    "head|chief|director|mp|lawmaker|senator|governor|mayor|founder|ceo|commander|king|queen|judge|lawyer|activist|"
    "citizen|rescuer|official|representative|negotiator|candidate|member|player|coach|singer|actor|writer"
)
_PLACE_NOUNS = "city|cities|country|countries|region|regions|town|village|province|capital|state|place|district|area|border|airport|port|nation|nations"
# "Which American was released?": a capitalised nationality word used as a noun asks for a person.
_DEMONYM = re.compile(r"\b(?i:which|what)\s+[A-Z][a-z]+(?:an|ese|ish|i|kh|ek|on)\s+(?:was|is|were|are|has|have|had|did|does|do|will|would|could|can)\b")
_ORG_NOUNS = (
    "company|companies|organization|organisation|organizations|organisations|center|centre|agency|agencies|bank|banks|"
    "party|parties|group|ministry|bloc|alliance|institution|university|firm|firms|newspaper|outlet|media|channel|airline|"
    "network|union|council|committee|court|body|bodies|department|service"
)


@dataclass(frozen=True)
class QuestionProfile:
    """The parts of a question that extraction and abstention look at."""

    text: str
    answer_type: str
    terms: tuple[str, ...]
    wants_list: bool
    names: tuple[str, ...] = ()
    focus: tuple[str, ...] = ()


_AUXILIARIES = frozenset("did does do is was were are has have had will would can could should may might to of in on for with by".split())


def profile_question(question: str) -> QuestionProfile:
    """Classify the expected answer of `question` and collect its content terms."""
    q = " " + re.sub(r"\s+", " ", question.casefold().replace("’", "'")).strip() + " "
    head = _wh_head(q)
    answer_type = _answer_type(q, head)
    if answer_type == OTHER and _DEMONYM.search(re.sub(r"\s+", " ", question)):
        answer_type = PERSON
    wants_list = head is not None and head.endswith("s") and head not in {"has", "was", "is"} and (
        re.fullmatch(_PLACE_NOUNS, head) or re.fullmatch(_ORG_NOUNS, head) or head in {"people", "members", "leaders", "officials"}
    ) is not None
    return QuestionProfile(text=question, answer_type=answer_type, terms=tuple(dict.fromkeys(content_terms(question))),
                           wants_list=bool(wants_list), names=proper_names(question), focus=_focus(q))


def _focus(q: str) -> tuple[str, ...]:
    """Terms of the noun phrase a which/what question asks about ("which hypersonic missile" -> hypersonic, missile)."""
    match = re.search(r"\b(?:which|what)\s+(?:(?:is|was|are|were)\s+(?:the|a|an)\s+)?((?:[\w'-]+\s+){1,5})", q)
    if not match:
        return ()
    phrase = []
    for word in match.group(1).split():
        if word in _AUXILIARIES or word in {"between", "that", "who", "which", "from", "at", "as"}:
            break
        phrase.append(word)
    return tuple(content_terms(" ".join(phrase)))


def proper_names(question: str) -> tuple[str, ...]:
    """Stemmed terms of the capitalised words of a question, leaving out its first word ("Who", "In")."""
    names = []
    for position, match in enumerate(re.finditer(r"[^\W\d_][\w'’-]*", question)):
        word = match.group()
        if position == 0 or not word[0].isupper():
            continue
        names.extend(content_terms(word))
    return tuple(dict.fromkeys(names))


def _wh_head(q: str) -> str | None:
    """The head noun after "which"/"what" ("which Kazakh foreign ministry spokesman" -> "spokesman")."""
    match = re.search(r"\b(which|what)\s+((?:[\w'-]+\s+){1,4})", q)
    if not match:
        return None
    head = None
    for word in match.group(2).split():
        if word in _AUXILIARIES:
            break
        if any(re.fullmatch(nouns, word) for nouns in (_PERSON_NOUNS, _PLACE_NOUNS, _ORG_NOUNS)):
            head = word
    return head


def _answer_type(q: str, head: str | None) -> str:
    if re.search(r"\bhow old\b|\bwhat age\b|\bat what age\b", q):
        return AGE
    if re.search(r"\bhow long (?:has|have|had|did|does|do|will|would|can|could|should|must|might)\b|\bfor how long\b", q):
        return DURATION  # "how long has he ruled": a span of time, not a length
    if re.search(r"\bhow (many|much)\b|\bwhat (percentage|share|proportion|number|amount|sum)\b|\bhow (large|big|far|long|high)\b", q):
        return NUMBER
    if re.search(r"\bwhen\b|\b(what|which) (date|year|day|month|time)\b|\bsince when\b", q):
        return DATE
    if re.search(r"\bwhy\b|\bfor what reason\b|\bwhat (caused|led to|prompted)\b|\bhow did .* come\b", q):
        return REASON
    if head is not None:
        for nouns, kind in ((_PERSON_NOUNS, PERSON), (_PLACE_NOUNS, PLACE), (_ORG_NOUNS, ORGANIZATION)):
            if re.fullmatch(nouns, head):
                return kind
    if re.search(r"\bwhere\b", q):
        return PLACE
    if re.search(r"\b(who|whom|whose)\b", q) or re.search(rf"\bname of\b.*\b({_PERSON_NOUNS})\b", q):
        return PERSON
    return OTHER
