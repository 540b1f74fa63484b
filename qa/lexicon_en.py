"""Every English word list the answering pipeline uses, in one place (another language gets its own module)."""

from __future__ import annotations

import re

# Function words that carry no topic; kept short on purpose (question words are handled separately).
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having", "he", "her", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "me", "my", "of", "on", "or", "our", "ours", "she", "so", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours", "also", "about", "after", "before", "over", "under", "up", "down", "out", "off", "again", "further", "once", "here", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "just", "very", "s", "t", "d", "ll", "m", "o", "re", "ve", "y", "according", "said", "say", "says"]
)


# Irregular past forms of verbs common in news, so "came" meets "come" and "took" meets "take".
IRREGULAR_VERBS = dict(
    pair.split(":")
    for pair in ["came:come", "took:take", "taken:take", "held:hold", "met:meet", "made:make", "gave:give", "given:give", "went:go", "gone:go", "began:begin", "begun:begin", "sent:send", "won:win", "lost:lose", "left:leave", "led:lead", "told:tell", "thought:think", "brought:bring", "bought:buy", "built:build", "caught:catch", "chose:choose", "chosen:choose", "drew:draw", "drawn:draw", "drove:drive", "fell:fall", "fought:fight", "found:find", "flew:fly", "forgot:forget", "got:get", "grew:grow", "heard:hear", "kept:keep", "knew:know", "known:know", "laid:lay", "meant:mean", "paid:pay", "ran:run", "rose:rise", "saw:see", "seen:see", "sold:sell", "set:set", "shot:shoot", "spoke:speak", "spoken:speak", "spent:spend", "stood:stand", "struck:strike", "swore:swear", "understood:understand", "wore:wear", "wrote:write", "written:write", "became:become", "broke:break", "broken:break"]
)



# Question words, and the answer type each suggests (for reports per question type and the Query).
PERSON, DATE, NUMBER, PLACE, REASON, MANNER, ENTITY, OTHER = "person", "date", "number", "place", "reason", "manner", "entity", "other"
_ANSWER_TYPES = (
    (re.compile(r"\bhow (?:many|much|old|long|far|large|big|high)\b"), NUMBER),
    (re.compile(r"\b(?:when|what year|which year|what date|what day|what month)\b"), DATE),
    (re.compile(r"\bwhy\b|\bfor what reason\b"), REASON),
    (re.compile(r"\bwhere\b"), PLACE),
    (re.compile(r"\b(?:who|whom|whose)\b"), PERSON),
    (re.compile(r"\bhow\b"), MANNER),
    (re.compile(r"\b(?:what|which)\b"), ENTITY),
)

# Pronouns that point outside the question: a follow-up leans on the conversation for them.
REFERRING_PRONOUNS = re.compile(r"\b(?:he|she|him|her|his|hers|they|them|their|theirs|it|its)\b", re.IGNORECASE)
# A sentence opening with one of these refers back to the sentence before it ("He said ...", "This came after ...").
ANAPHORIC_OPENINGS = re.compile(r"(?:he|she|they|it|his|her|their|its|this|these|those|that)\b", re.IGNORECASE)
# Openings that continue the previous question ("And ...", "What about ...", "Also ...").
CONTINUATIONS = re.compile(r"(?:and|also|but|so|what about|how about|and what about)\b", re.IGNORECASE)
# Personal pronouns that need someone to refer to; with no earlier turn and no name in the question, nobody is there.
PERSONAL_PRONOUNS = re.compile(r"\b(?:he|she|him|they|them)\b", re.IGNORECASE)
# The same for a thing: with nothing earlier, "When was it built?" has nothing to search for.
THING_PRONOUNS = re.compile(r"\b(?:it|its)\b", re.IGNORECASE)
SUBJECT_PRONOUNS = re.compile(r"\b(?:he|she|him|they|them|it)\b", re.IGNORECASE)
POSSESSIVE_PRONOUNS = re.compile(r"\b(?:his|her|its|their)\b", re.IGNORECASE)


def answer_type(question: str) -> str:
    """The answer type a question's wording suggests, from its question words alone."""
    lowered = question.casefold()
    for pattern, kind in _ANSWER_TYPES:
        if pattern.search(lowered):
            return kind
    return OTHER
