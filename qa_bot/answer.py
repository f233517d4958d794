"""Answer assembly: the prompt, citation parsing and verification, refusal, extractive answers.

Small models cite badly, so the app owns the citations: the model's [n] markers are parsed, checked
against the passages with a lexical support measure, dropped or moved when they don't hold, and put
back at sentence ends. The extractive mode builds the same raw text (sentences with [n]) without a
model, so both go through `finalize_answer`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompts import PromptTemplate

from qa_bot.retrieval import Passage
from qa_bot.settings import PROJECT_ROOT

REFUSAL_MESSAGE = (
    "The articles don't say. I found nothing in the indexed articles that answers this question."
)

# The exact line the prompt asks for when the passages lack the answer. The prompt file takes it as a
# placeholder, so the prompt and the parser can't drift apart.
NOT_IN_PASSAGES = "NOT IN PASSAGES"

# A sentence counts as supported by a passage when 60% of its content words occur in the passage, and
# 60% of its names and numbers. That tolerates the paraphrase a small model does ("the call took place
# on Sunday" vs "a conversation ... on Sunday": 2 of 3 weighted words), while a sentence that shares
# the passage's names but adds its own day, place or figure ("... spoke on Sunday" against a passage
# about Thursday: 1 of 2 names) falls below it.
SUPPORT_THRESHOLD = 0.6

# Extractive mode answers only when one passage sentence holds at least this share of the question's
# content words: below it the sentence merely shares a name with the question (FIFA vs "world's").
EXTRACTIVE_MIN_COVERAGE = 0.4

DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts"


@dataclass
class Citation:
    n: int  # the number shown in the answer text: 1-based position in Answer.passages
    passage: Passage
    quote_start: int  # offsets into the ARTICLE text of the passage sentence that best supports the claim
    quote_end: int
    support: float  # 0..1, how well the passage supports the sentences that cite it


@dataclass
class AnswerSentence:
    text: str  # the sentence without its [n] markers
    citations: list[int]  # the n's that support it, after repair
    supported: bool  # False: no passage supports it; the UI marks it


@dataclass
class Answer:
    question: str
    text: str  # the answer with repaired [n] markers (or REFUSAL_MESSAGE)
    refused: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)  # unique by n, ordered by n
    passages: list[Passage] = field(default_factory=list)  # what the model saw; shown even on failure
    standalone_question: str | None = None  # the rewritten follow-up, when there was history
    error: str | None = None  # a clear, key-free message when the LLM failed
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


# --- prompts ---------------------------------------------------------------------------------------

_PLACEHOLDERS = {
    "answer": {"sentinel", "as_of", "passages", "question"},
    "condense": {"history", "question"},
    "judge": {"passages", "question", "answer"},
}
_SECTION = re.compile(r"^##[ \t]+(system|user)[ \t]*$", re.IGNORECASE | re.MULTILINE)


class PromptPair(NamedTuple):
    system: PromptTemplate
    user: PromptTemplate

    def to_messages(self, **values: str) -> list[BaseMessage]:
        # Values are substituted once and never re-parsed, so braces in article text are safe.
        return [SystemMessage(self.system.format(**values)), HumanMessage(self.user.format(**values))]


def load_prompt(name: str, prompts_dir: Path | None = None) -> PromptPair:
    """Read `<prompts_dir>/<name>.md`: a `## system` section and a `## user` section with {placeholders}."""
    path = Path(prompts_dir or DEFAULT_PROMPTS_DIR) / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(
            f"Prompt file {path} is missing: restore it from the repository's prompts/ folder, "
            "or set QA_BOT_PROMPTS_DIR to a folder that has it."
        )
    sections = _split_sections(path.read_text(encoding="utf-8"), path)
    pair = PromptPair(*(PromptTemplate.from_template(sections[part]) for part in ("system", "user")))
    expected = _PLACEHOLDERS.get(name)
    found = set(pair.system.input_variables) | set(pair.user.input_variables)
    if expected is not None and found != expected:
        raise ValueError(
            f"{path}: the prompt must use exactly the placeholders {sorted(expected)}; "
            f"found {sorted(found)}. Write a literal brace as {{{{ or }}}}."
        )
    return pair


def _split_sections(text: str, path: Path) -> dict[str, str]:
    """Text before the first heading is a note for people and is not sent to the model."""
    headings = list(_SECTION.finditer(text))
    names = [m.group(1).lower() for m in headings]
    if sorted(names) != ["system", "user"]:
        raise ValueError(
            f"{path}: expected one '## system' heading and one '## user' heading, found {names}."
        )
    sections = {}
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        sections[heading.group(1).lower()] = text[heading.end() : end].strip()
    return sections


def format_passages(passages: Sequence[Passage]) -> str:
    """`[n] <title> (<date>, <source>)` then the passage text, verbatim."""
    blocks = []
    for n, passage in enumerate(passages, start=1):
        title = " ".join((passage.title or "Untitled").split())  # a newline in a title would fake a block
        details = ", ".join(x for x in (passage.date, passage.source) if x)
        header = f"[{n}] {title}" + (f" ({details})" if details else "")
        blocks.append(f"{header}\n{passage.text}")
    return "\n\n".join(blocks)


def build_answer_messages(
    question: str, passages: Sequence[Passage], as_of: date | None = None, prompts_dir: Path | None = None
) -> list[BaseMessage]:
    """System + user messages asking for a short answer from the numbered passages only.

    `as_of` resolves "this week" and "latest"; None means today.
    """
    as_of = as_of or date.today()
    return load_prompt("answer", prompts_dir).to_messages(
        sentinel=NOT_IN_PASSAGES,
        as_of=as_of.strftime("%A, %Y-%m-%d"),
        passages=format_passages(passages),
        question=question.strip(),
    )


def build_condense_messages(
    history: Sequence[tuple[str, str] | object],
    question: str,
    prompts_dir: Path | None = None,
    max_turns: int = 3,
) -> list[BaseMessage]:
    """Messages asking to rewrite a follow-up into a standalone question.

    `history` holds (question, answer) pairs or objects with .question and .answer, oldest first.
    Only the last `max_turns` are sent: each turn costs prompt time on a CPU model.
    """
    lines = []
    for turn in list(history)[-max_turns:]:
        asked, answered = turn if isinstance(turn, tuple) else (turn.question, turn.answer)
        lines += [f"User: {asked.strip()}", f"Assistant: {_shorten(strip_markers(answered), 400)}"]
    return load_prompt("condense", prompts_dir).to_messages(
        history="\n".join(lines), question=question.strip()
    )


def parse_condensed_question(raw: str, original: str) -> str:
    """The model's rewrite, cleaned of labels and quotes; the original question when it gave nothing."""
    for line in raw.strip().splitlines():
        line = re.sub(r"^\s*(standalone question|question|rewritten question)\s*:\s*", "", line, flags=re.I)
        line = line.strip().strip("\"'`“”").strip()
        if line:
            return line
    return original


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- sentences and lexical support -----------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "mr mrs ms dr prof st jr sr gen col lt sgt capt gov sen rep rev hon no vs inc ltd co corp dept "
        "univ jan feb mar apr jun jul aug sep sept oct nov dec mt ft fig approx est"
    ).split()
)
# Sentence end: terminal punctuation, closing quotes/brackets, and any citation markers right after it
# (so "Sunday. [3]" keeps its marker); or a line break.
_SENTENCE_END = re.compile(
    r"""[.!?]+["'”’)\]]*(?:[ \t]*(?:\[[^\[\]\n]{1,40}\]|【[^】\n]{1,40}】))*(?=\s|$)|\n"""
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace trimmed.

    Doesn't split after abbreviations (Dr., U.S.), initials (S. Jaishankar), decimals (3.5), or before a
    lowercase word; a line break always ends a sentence (headlines and list items have no full stop).
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() == "\n" or _ends_sentence(text, match):
            _add_trimmed(spans, text, start, match.end())
            start = match.end()
    _add_trimmed(spans, text, start, len(text))
    return spans


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    following = text[match.end() :].lstrip()[:1]
    if following.islower():
        return False
    if text[match.start()] != ".":
        return True
    word = re.search(r"[\w.]*$", text[: match.start()]).group()
    is_initial = len(word) == 1 and word.isalpha()
    return not (is_initial or "." in word or word.lower() in _ABBREVIATIONS)


def _add_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        first = start + len(chunk) - len(chunk.lstrip())
        spans.append((first, first + len(stripped)))


# Words that claim nothing: where the answer came from ("according to the passages") and the verbs a
# model pads an event with ("the call took place on Sunday"). They must not count for or against support.
_NON_CLAIM_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "according passage passages article articles based provided context took taken place happened "
        "occurred"
    ).split()
)
_STOP_WORDS = frozenset(STOPWORDS_EN_PLUS) | _NON_CLAIM_WORDS
_WORD = re.compile(r"[^\W_]+")
_local = threading.local()  # a PyStemmer Stemmer is not thread-safe; Streamlit serves from threads


def _stem(word: str) -> str:
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer.stemWord(word)


class _Term(NamedTuple):
    word: str  # lowercased
    stem: str
    weight: float


def _terms(text: str) -> list[_Term]:
    """Content words, unique by stem. Names (capitalised after the first word) and numbers weigh double."""
    terms: dict[str, _Term] = {}
    for i, match in enumerate(_WORD.finditer(text)):
        raw = match.group()
        word = raw.lower()
        if word in _STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        is_fact = any(c.isdigit() for c in raw) or (i > 0 and raw[0].isupper())
        stem = _stem(word)
        if stem not in terms or is_fact:
            terms[stem] = _Term(word, stem, 2.0 if is_fact else 1.0)
    return list(terms.values())


class _Bag(NamedTuple):
    stems: frozenset[str]
    words: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Bag:
        words = frozenset(m.group().lower() for m in _WORD.finditer(text))
        return cls(frozenset(_stem(w) for w in words), words)

    def has(self, term: _Term) -> bool:
        # Compounds count: "phone" occurs in "telephone", "narcotics" in "counternarcotics".
        return term.stem in self.stems or (
            len(term.word) >= 5 and not term.word.isdigit() and any(w.endswith(term.word) for w in self.words)
        )


def _coverage(terms: Sequence[_Term], bag: _Bag) -> float:
    total = sum(t.weight for t in terms)
    return sum(t.weight for t in terms if bag.has(t)) / total if total else 0.0


def support_score(claim: str, passage_text: str) -> float:
    """0..1: the share of the claim's content words (names and numbers weigh double) that occur in the
    passage text, or the share of its names and numbers if that is lower: they carry the facts."""
    return _support(_terms(claim), _Bag.of(passage_text))


def _support(terms: Sequence[_Term], bag: _Bag) -> float:
    facts = [t for t in terms if t.weight > 1]
    return min(_coverage(terms, bag), _coverage(facts, bag)) if facts else _coverage(terms, bag)


def passage_support(claim: str, passage: Passage) -> float:
    """Like `support_score`, but the passage's title and date count too (the prompt shows them)."""
    return support_score(claim, f"{passage.text}\n{passage.title or ''}\n{_date_words(passage.date)}")


def _date_words(iso: str | None) -> str:
    """An ISO date, and the same date the way an answer states it ("April 16 2023")."""
    if not iso:
        return ""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{iso} {day:%B} {day.day} {day.year}"


def best_supporting_span(claim: str, passage: Passage) -> tuple[int, int, float]:
    """The passage sentence that best supports the claim: (start, end) in the ARTICLE text, and its score."""
    terms = _terms(claim)
    best: tuple[int, int, float] | None = None
    for start, end in split_sentences(passage.text):
        score = _support(terms, _Bag.of(passage.text[start:end]))
        if best is None or score > best[2]:  # ties go to the earlier sentence
            best = (passage.start + start, passage.start + end, score)
    return best or (passage.start, passage.end, 0.0)


# --- citation markers and refusals -----------------------------------------------------------------

_NUMBERS = r"\d{1,3}(?:\s*(?:,|;|and|&|-|–)\s*(?:(?:passages?|p)\.?\s*)?\d{1,3})*"
_LABEL = r"(?:(?:passages?|sources?|refs?|p)\.?\s*|\^)?"
_BRACKET_MARKER = re.compile(rf"\[\s*{_LABEL}({_NUMBERS})\s*\]|【\s*{_LABEL}({_NUMBERS})\s*】", re.I)
_LABELLED_PAREN_MARKER = re.compile(rf"\(\s*(?:passages?|sources?)\s*({_NUMBERS})\s*\)", re.I)
# "(2)" is a citation only at the very end of a sentence: elsewhere it may be a list item or a count.
_BARE_PAREN_MARKER = re.compile(rf"\(\s*({_NUMBERS})\s*\)(?=[\s.!?\"'”’]*$)")


def _numbers(spec: str) -> list[int]:
    numbers: list[int] = []
    for a, b in re.findall(r"(\d+)\s*(?:[-–]\s*(?:(?:passages?|p)\.?\s*)?(\d+))?", spec, re.I):
        low, high = int(a), int(b or a)
        numbers += range(low, high + 1) if 0 <= high - low <= 10 else [low, high]
    return numbers


def _take_markers(sentence: str, n_passages: int) -> tuple[str, list[int]]:
    """The sentence without its markers, and the passage numbers it cites (in range, unique, in order)."""
    cited: list[int] = []

    def take(match: re.Match[str], keep_if_out_of_range: bool = False) -> str:
        numbers = _numbers(next(g for g in match.groups() if g))
        if keep_if_out_of_range and not all(1 <= n <= n_passages for n in numbers):
            return match.group()
        cited.extend(n for n in numbers if 1 <= n <= n_passages and n not in cited)
        return " "

    text = _BRACKET_MARKER.sub(take, sentence)
    text = _LABELLED_PAREN_MARKER.sub(take, text)
    text = _BARE_PAREN_MARKER.sub(lambda m: take(m, keep_if_out_of_range=True), text)
    return _tidy(text), cited


def strip_markers(text: str) -> str:
    """Text without [n]-style citation markers (for history shown to the condense prompt)."""
    return _tidy(_BRACKET_MARKER.sub(" ", text))


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text).strip()
    return re.sub(r" +([.,;:!?])", r"\1", text)


_SOURCE = r"(?:passages?|articles?|context|text|sources?|documents?|information provided|given information)"
_REFUSAL_PATTERNS = [
    re.compile(p, re.I)
    for p in (
        rf"\b{_SOURCE}\b.{{0,60}}\b(?:do|does|did)\s*(?:not|n['’]t)\s+(?:appear\s+to\s+|seem\s+to\s+)?"
        r"(?:contain|mention|say|state|specify|provide|include|give|offer|discuss|address|answer|cover|indicate)",
        rf"\b{_SOURCE}\b.{{0,40}}\b(?:provide|contain|give|offer|include|ha(?:ve|s))s?\s+no\b",
        rf"\bnot\s+(?:provided|mentioned|stated|specified|given|included|found|available|covered|addressed)"
        rf"\s+(?:in|by|within)\s+(?:the\s+)?(?:given\s+|provided\s+)?{_SOURCE}",
        rf"\bnot\s+(?:in|within|among)\s+(?:the\s+)?(?:given\s+|provided\s+)?{_SOURCE}",
        r"\bthere\s+(?:is|was|are)\s+no\s+(?:mention|information|details?|indication|data)\b",
        r"^\s*no\s+(?:relevant\s+|specific\s+)?information\b",
        r"\bi\s+(?:do\s+not|don['’]t|cannot|can['’]t|am\s+unable\s+to|was\s+unable\s+to)\s+"
        r"(?:know|answer|find|determine|tell|say|provide)",
        r"\b(?:cannot|can['’]t|can\s+not|unable\s+to)\s+(?:be\s+)?(?:answer|determin|find|found|tell|told)",
        r"\bi['’]?m\s+(?:sorry|unable|not\s+able)\b",
    )
]


def _is_sentinel(text: str) -> bool:
    return re.sub(r"[^a-z ]", "", text.lower()).strip().startswith(NOT_IN_PASSAGES.lower())


def _is_refusal_sentence(text: str) -> bool:
    return _is_sentinel(text) or any(p.search(text) for p in _REFUSAL_PATTERNS)


# --- finalizing an answer --------------------------------------------------------------------------


@dataclass
class _Checked:
    sentence: AnswerSentence
    kind: str  # "claim", "filler" (no content words), or "refusal" (says the passages lack the answer)
    separator: str  # what stood before it in the raw text: keeps line breaks of lists


def finalize_answer(question: str, raw_text: str, passages: Sequence[Passage]) -> Answer:
    """Turn raw model (or extractive) output into an Answer with verified, repaired citations."""
    raw = raw_text.strip()
    spans = split_sentences(raw)
    if not spans or _is_sentinel(raw[spans[0][0] : spans[0][1]]):
        return _refusal(question, passages)
    checked = []
    for i, (start, end) in enumerate(spans):
        text, cited = _take_markers(raw[start:end], len(passages))
        if text and not _is_sentinel(text):
            gap = raw[spans[i - 1][1] : start] if i else ""
            checked.append(_check_sentence(text, cited, passages, _separator(gap)))
    if _is_whole_refusal(checked):
        return _refusal(question, passages)
    sentences = [c.sentence for c in checked]
    text = "".join(c.separator + _with_markers(c.sentence.text, c.sentence.citations) for c in checked)
    return Answer(
        question=question,
        text=text.strip(),
        refused=False,
        sentences=sentences,
        citations=_citations(sentences, passages),
        passages=list(passages),
    )


def _refusal(question: str, passages: Sequence[Passage]) -> Answer:
    return Answer(question=question, text=REFUSAL_MESSAGE, refused=True, passages=list(passages))


def _separator(gap: str) -> str:
    if not gap:
        return ""
    return "\n\n" if "\n\n" in gap else "\n" if "\n" in gap else " "


def _check_sentence(text: str, cited: list[int], passages: Sequence[Passage], separator: str) -> _Checked:
    kept = [n for n in cited if passage_support(text, passages[n - 1]) >= SUPPORT_THRESHOLD]
    if _is_refusal_sentence(text) and not kept:
        # "The passages don't say who won." A refusal phrase with a cited, supporting passage is a claim
        # instead ("officials said they cannot determine the cause [1]").
        return _Checked(AnswerSentence(text, [], supported=True), "refusal", separator)
    if not _terms(text):  # "Yes." or "According to the passages:": nothing to verify
        return _Checked(AnswerSentence(text, cited, supported=True), "filler", separator)
    if not kept and passages:
        scores = [passage_support(text, p) for p in passages]
        best = max(range(len(passages)), key=lambda i: scores[i])  # ties go to the higher-ranked passage
        kept = [best + 1] if scores[best] >= SUPPORT_THRESHOLD else []
    return _Checked(AnswerSentence(text, kept, supported=bool(kept)), "claim", separator)


def _is_whole_refusal(checked: list[_Checked]) -> bool:
    """Refused when it says the passages lack the answer and says nothing else that is an answer."""
    has_refusal = any(c.kind == "refusal" for c in checked)
    answers = [c for c in checked if c.kind == "claim" or (c.kind == "filler" and c.sentence.citations)]
    return not checked or (has_refusal and not answers)


def _with_markers(text: str, citations: list[int]) -> str:
    """Markers go before the final full stop ("on Sunday [1]."), or last after a closing quote."""
    if not citations:
        return text
    markers = "".join(f"[{n}]" for n in citations)
    end = re.search(r"[.!?]+$", text)
    if end:
        return f"{text[: end.start()].rstrip()} {markers}{end.group()}"
    return f"{text} {markers}"


def _citations(sentences: list[AnswerSentence], passages: Sequence[Passage]) -> list[Citation]:
    """One Citation per cited passage: its best support, and the passage sentence that best supports it."""
    by_n: dict[int, Citation] = {}
    best_span_score: dict[int, float] = {}
    for sentence in sentences:
        for n in sentence.citations:
            passage = passages[n - 1]
            start, end, span_score = best_supporting_span(sentence.text, passage)
            support = passage_support(sentence.text, passage)
            citation = by_n.setdefault(n, Citation(n, passage, start, end, support))
            citation.support = max(citation.support, support)
            if span_score > best_span_score.get(n, -1.0):
                best_span_score[n] = span_score
                citation.quote_start, citation.quote_end = start, end
    return [by_n[n] for n in sorted(by_n)]


# --- extractive answers (no LLM) -------------------------------------------------------------------


class _Candidate(NamedTuple):
    score: float
    coverage: float
    n: int
    text: str


def extractive_answer(question: str, passages: Sequence[Passage], max_sentences: int = 2) -> str:
    """Raw answer text from the passages' own sentences, each ending with its [n]; or the sentinel.

    A sentence scores by the rarity-weighted question words it holds (idf over the given passages), a
    little less for lower-ranked passages.
    """
    terms = _terms(question)
    bags = [_Bag.of(p.text) for p in passages]
    idf = {t.stem: _idf(sum(bag.has(t) for bag in bags), len(bags)) for t in terms}
    candidates = []
    for rank, passage in enumerate(passages):
        for start, end in split_sentences(passage.text):
            sentence = passage.text[start:end]
            bag = _Bag.of(sentence)
            matched = [t for t in terms if bag.has(t)]
            if len(sentence.split()) < 3 or not matched:
                continue
            score = sum(idf[t.stem] for t in matched) * (1 - 0.05 * min(rank, 10))
            candidates.append(_Candidate(score, len(matched) / len(terms), rank + 1, sentence))
    chosen = _choose(candidates, max_sentences)
    if not chosen:
        return NOT_IN_PASSAGES
    return " ".join(_with_markers(c.text, [c.n]) for c in chosen)


def _idf(df: int, n_docs: int) -> float:
    """BM25's idf: always positive, high for words few passages share."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


def _choose(candidates: list[_Candidate], max_sentences: int) -> list[_Candidate]:
    """The best sentence, plus runners-up that score nearly as well: a weaker one would dilute the answer."""
    ranked = sorted((c for c in candidates if c.coverage >= EXTRACTIVE_MIN_COVERAGE), key=lambda c: -c.score)
    chosen: list[_Candidate] = []
    for candidate in ranked:
        if len(chosen) == max_sentences or (chosen and candidate.score < 0.8 * chosen[0].score):
            break
        if candidate.text not in {c.text for c in chosen}:  # overlapping chunks repeat sentences
            chosen.append(candidate)
    return chosen


# --- streaming -------------------------------------------------------------------------------------


def stream_display_text(partial: str) -> str:
    """What to show while tokens arrive: the sentinel (or its first letters) never flashes on screen."""
    shown = partial.strip()
    if _is_sentinel(shown):
        return REFUSAL_MESSAGE
    if shown and NOT_IN_PASSAGES.lower().startswith(shown.lower()):
        return ""
    return partial
