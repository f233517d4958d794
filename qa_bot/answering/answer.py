"""Answers: citation parsing, verification and repair, refusal, and the Answer the user sees.

Small models cite badly, so the app owns the citations: the model's [n] markers are parsed, each
sentence is checked against the text of the passage it cites (`qa_bot.answering.verify.verify_claim`: its
names, numbers and dates, and the part that answers the question, must be stated there), markers
are dropped or moved when they don't hold, and put back at sentence ends. An answer with nothing
verified is a refusal, unless it failed only for restating the question's names: then the cited
passage's own sentence that states its answer is given instead. The extractive mode
(`qa_bot.answering.extractive`) builds the same raw text (sentences with [n]) without a model, so both go
through `finalize_answer`. The prompts that ask for that text are in `qa_bot.answering.prompts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qa_bot.answering.pointer import extractive_pointer, looks_like_pointer, parse_pointer, partial_answer
from qa_bot.answering.quoting import (
    QUESTION_RULES,
    ArticleText,
    Quote,
    quote_answer,
    sentences_of,
    subject_names,
)
from qa_bot.answering.verify import (
    ANSWER_PART_COVERAGE,
    Verdict,
    best_supporting_span,
    facts_not_in,
    verify_claim,
    words_from_planted,
)
from qa_bot.index.search import Passage
from qa_bot.now import STALE_DAYS, asks_about_now, asks_about_time
from qa_bot.records import record_dict, record_values
from qa_bot.text import Term, WordBag, content_terms, split_sentences, support_score

# Every refusal starts with it; refusal_text says what was read and why it was not enough.
REFUSAL_MESSAGE = "The articles don't say."

# The exact line the prompt asks for when the passages lack the answer. The prompt file takes it as a
# placeholder, so the prompt and the parser can't drift apart.
NOT_IN_PASSAGES = "NOT IN PASSAGES"


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: what follow-up questions may refer to."""

    question: str
    answer: str

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        return cls(**record_values(cls, data))


@dataclass
class Citation:
    n: int  # the number shown in the answer text: 1-based position in Answer.passages
    passage: Passage
    quote_start: int  # offsets into the ARTICLE text of the passage sentence that best supports the claim
    quote_end: int
    support: float  # 1.0 when the verifier found a citing sentence stated in it; else the word overlap

    def to_dict(self) -> dict[str, Any]:
        """The passage's keys, flat (`ask --json` documents them so), with the number, the quote's
        offsets and the support."""
        quote = {"start": self.quote_start, "end": self.quote_end}
        return {"n": self.n, **self.passage.to_dict(), "quote": quote, "support": self.support}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Citation:
        """The citation `to_dict` wrote; without a quote (the chat's ratings of before the answer log),
        the quote is the whole passage."""
        passage = Passage.from_dict(data)
        quote = data.get("quote") or {}
        start = passage.start if quote.get("start") is None else quote["start"]
        end = passage.end if quote.get("end") is None else quote["end"]
        return cls(data["n"], passage, start, end, data.get("support") or 0.0)


@dataclass
class AnswerSentence:
    text: str  # the sentence without its [n] markers
    citations: list[int]  # the n's that support it, after repair
    supported: bool  # False: no passage states it; the UI marks it
    reason: str = ""  # why it is unverified, for the reader
    # The n's the model wrote after it, before the check: for an unverified sentence, the passages it
    # failed against (what a reviewer checks the verifier's "no" against; see qa_bot.team.answer_log).
    cited: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnswerSentence:
        """The sentence `to_dict` wrote; one written without its mark is taken as shown verified."""
        return cls(**{"citations": [], "supported": True, **record_values(cls, data)})


@dataclass
class Answer:
    question: str
    text: str  # the answer with repaired [n] markers (or REFUSAL_MESSAGE)
    refused: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)  # unique by n, ordered by n
    passages: list[Passage] = field(default_factory=list)  # what the model saw; shown even on failure
    planted: list[Passage] = field(default_factory=list)  # article sentences addressing the assistant
    standalone_question: str | None = None  # the rewritten follow-up, when there was history
    error: str | None = None  # a clear, key-free message when the LLM failed (or the index is not ready)
    # The index holds no fully indexed article (nothing ingested, or the ingest failed): `error` says
    # what to do, and the refusal is not the articles' silence.
    index_not_ready: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    # What the model (or the extractive mode) wrote, and the sentences of it the passages did not
    # state: kept so that a refusal can be traced to the model or to the check.
    raw_text: str = ""
    rejected: list[AnswerSentence] = field(default_factory=list)
    # The pointer stage (qa_bot.answering.quoting): the few words that answer, and the evidence sentences
    # quoted word for word that state them. None / empty on a refusal or a free-sentence answer.
    short_answer: str | None = None
    quotes: list[Quote] = field(default_factory=list)
    refusal_reason: str | None = None  # why the pointer stage refused: "model", "not in evidence", ...
    # Set while the archive is still being embedded: the answer came from keyword search and the
    # vectors written so far, and says so ("The archive is still being indexed: N of M ...").
    indexing_notice: str | None = None

    def to_dict(self, *, passage_text: bool = True) -> dict[str, Any]:
        """The answer as JSON: `qa-bot ask --json`, the evaluation's rows, the answer log's sentences.

        `passage_text=False` leaves the text out of `passages` (what the answerer read), where it
        would only repeat the citations' (the CLI's output). Each passage carries its number `n`.
        """
        data = {_KEYS.get(name, name): value for name, value in record_dict(self).items()}
        data["sentences"] = [s.to_dict() for s in self.sentences]
        data["rejected"] = [s.to_dict() for s in self.rejected]
        data["citations"] = [c.to_dict() for c in self.citations]
        data["passages"] = [
            {"n": n, **p.to_dict(text=passage_text)} for n, p in enumerate(self.passages, start=1)
        ]
        data["planted"] = [p.to_dict() for p in self.planted]
        data["quotes"] = [q.to_dict() for q in self.quotes]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """The answer `to_dict` wrote. Rejected sentences written without their mark were not verified."""
        fields_by_name = {k: v for k, v in data.items() if k not in _KEYS}
        fields_by_name |= {name: data[key] for name, key in _KEYS.items() if key in data}
        values = record_values(cls, fields_by_name)
        values["sentences"] = [AnswerSentence.from_dict(s) for s in data.get("sentences", [])]
        values["rejected"] = [
            AnswerSentence.from_dict({"supported": False, **s}) for s in data.get("rejected", [])
        ]
        values["citations"] = [Citation.from_dict(c) for c in data.get("citations", [])]
        values["passages"] = [Passage.from_dict(p) for p in data.get("passages", [])]
        values["planted"] = [Passage.from_dict(p) for p in data.get("planted", [])]
        values["quotes"] = [Quote.from_dict(q) for q in data.get("quotes", [])]
        return cls(**values)


# The answer's fields whose JSON keys say more than the field's name (`ask --json` documents "answer").
_KEYS = {"text": "answer", "raw_text": "raw_answer"}


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


def finalize_answer(
    question: str,
    raw_text: str,
    passages: Sequence[Passage],
    *,
    as_of: date | None = None,
    planted: Sequence[Passage] = (),
) -> Answer:
    """Turn raw model (or extractive) output into an Answer with verified, repaired citations.

    `as_of` is the day the question is asked: a claim about "this week" from an older article fails.
    `planted` are the sentences held back as instructions to the model: a claim that takes its words
    from them is never verified.
    """
    raw = raw_text.strip()
    spans = split_sentences(raw)
    if not spans or _is_sentinel(raw[spans[0][0] : spans[0][1]]):
        return _refusal(question, passages, raw)
    checker = _Checker(question, passages, as_of, [p.text for p in planted])
    checked = []
    for i, (start, end) in enumerate(spans):
        text, cited = _take_markers(raw[start:end], len(passages))
        if text and not _is_sentinel(text):
            gap = raw[spans[i - 1][1] : start] if i else ""
            checked.append(checker.check(text, cited, _separator(gap)))
    rejected = [c.sentence for c in checked if c.kind == "claim" and not c.sentence.supported]
    if _is_whole_refusal(checked):
        return _refusal(question, passages, raw, rejected)
    if _nothing_supported(checked):
        quote = checker.quote_instead(rejected)
        if quote is None:
            return _refusal(question, passages, raw, rejected)
        checked = [_Checked(quote, "claim", "")]
    sentences = [c.sentence for c in checked]
    text = "".join(c.separator + with_markers(c.sentence.text, c.sentence.citations) for c in checked)
    return Answer(
        question=question,
        text=text.strip(),
        refused=False,
        sentences=sentences,
        citations=_citations(sentences, passages, checker),
        passages=list(passages),
        raw_text=raw,
        rejected=rejected,
    )


def refusal_text(question: str, passages: Sequence[Passage], reason: str | None = None) -> str:
    """A refusal that agrees with the screen: how much was read, how new it is, and why it was not
    enough. "I found nothing" right under "Found 6 passages" read as a broken app."""
    if not passages:
        return (
            f"{REFUSAL_MESSAGE} No indexed article matches this question: try other words, "
            "or a wider date range or fewer sources if you chose some."
        )
    articles = {p.article_id for p in passages}
    newest = max((p.date for p in passages if p.date), default=None)
    read = f"I read {_count(len(passages), 'passage')} from {_count(len(articles), 'article')}" + (
        f" (the newest from {_long(date.fromisoformat(newest[:10]))})" if _is_iso(newest) else ""
    )
    return f"{REFUSAL_MESSAGE} {read}; {_why_not_enough(question, reason)}."


def _why_not_enough(question: str, reason: str | None) -> str:
    if reason == "off subject":
        names = subject_names(question)
        return f"none of them is about {' '.join(names)}" if names else "none of them is about it"
    if reason == "unrelated sentence":
        return "the only sentence holding the model's answer is about something else"
    if reason == "not in evidence":
        return "the answer the model gave is in none of them, so it is not shown"
    return "none of them answers it"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _is_iso(value: str | None) -> bool:
    try:
        date.fromisoformat((value or "")[:10])
    except ValueError:
        return False
    return True


def _refusal(
    question: str, passages: Sequence[Passage], raw: str = "", rejected: Sequence[AnswerSentence] = ()
) -> Answer:
    return Answer(
        question=question,
        text=refusal_text(question, passages),
        refused=True,
        passages=list(passages),
        raw_text=raw,
        rejected=list(rejected),
    )


def _separator(gap: str) -> str:
    if not gap:
        return ""
    return "\n\n" if "\n\n" in gap else "\n" if "\n" in gap else " "


class _Checker:
    """Checks answer sentences against the passages, remembering each verdict."""

    def __init__(
        self, question: str, passages: Sequence[Passage], as_of: date | None, planted: Sequence[str] = ()
    ) -> None:
        self.question, self.passages, self.as_of = question, passages, as_of
        self.planted = planted
        self.verdicts: dict[tuple[str, int], Verdict] = {}

    def verdict(self, text: str, n: int) -> Verdict:
        key = (text, n)
        if key not in self.verdicts:
            passage = self.passages[n - 1]
            self.verdicts[key] = verify_claim(
                text, passage.text, question=self.question, passage_date=passage.date, as_of=self.as_of
            )
        return self.verdicts[key]

    def check(self, text: str, cited: list[int], separator: str) -> _Checked:
        obeyed = words_from_planted(text, self.planted, [p.text for p in self.passages])
        if obeyed:
            reason = f"{', '.join(repr(w) for w in obeyed)} only in a sentence addressed to the assistant"
            sentence = AnswerSentence(text, cited, supported=False, reason=reason, cited=cited)
            return _Checked(sentence, "claim", separator)
        kept = [n for n in cited if self.verdict(text, n).supported]
        if _is_refusal_sentence(text) and not kept:
            # "The passages don't say who won." A refusal phrase with a cited, supporting passage is a
            # claim instead ("officials said they cannot determine the cause [1]").
            return _Checked(AnswerSentence(text, [], supported=True), "refusal", separator)
        if not content_terms(text):  # "Yes." or "According to the passages:": nothing to verify
            return _Checked(AnswerSentence(text, cited, supported=True), "filler", separator)
        if not kept:
            kept = self._another_passage(text)
        reason = "" if kept else self._reason(text, cited)
        sentence = AnswerSentence(text, kept, supported=bool(kept), reason=reason, cited=cited)
        return _Checked(sentence, "claim", separator)

    def quote_instead(self, rejected: Sequence[AnswerSentence]) -> AnswerSentence | None:
        """The passage's own sentence, quoted, for a claim rejected only for restating the question.

        A small model opens its answer with the question's words ("The White House said Biden will
        visit Kenya [1]") where the passage has only the answer ("Biden will visit Kenya next week").
        When a rejected claim's only names and numbers missing from the text of the passage it cites
        (any passage, when it cites none) are the question's own, its article (title or the evidence
        read from it) does name them, and one sentence of that passage states the claim's answer
        part (its words the question lacks, all its names and numbers among them), that sentence is
        the answer, word for word and cited: the verifier accepts it as the passage's own text.
        Only from articles at most STALE_DAYS older than `as_of`: the app, not the model, picks
        that sentence, and old news quoted as the answer is an answer about another event. None
        when no claim qualifies.
        """
        question_stems = {t.stem for t in content_terms(self.question)}
        for sentence in rejected:
            terms = content_terms(sentence.text)
            answer_part = [t for t in terms if t.stem not in question_stems]
            if not answer_part:
                continue
            for n in sentence.cited or self._ranked(sentence.text):  # uncited: any passage, as in repair
                passage = self.passages[n - 1]
                if self._older_than_stale(passage):
                    continue  # quoting old news in place of an answer would answer another event
                missing = facts_not_in(sentence.text, passage.text)
                if not missing or any(t.stem not in question_stems for t in missing):
                    continue  # it failed for something other than the question's names
                if not all(self._article_bag(passage).has(t) for t in missing):
                    continue  # the article does not name what the question asks about
                quote = self._quote(passage, answer_part)
                if quote is not None and self.verdict(quote, n).supported:
                    return AnswerSentence(quote, [n], supported=True, cited=[n])
        return None

    def _older_than_stale(self, passage: Passage) -> bool:
        try:
            published = date.fromisoformat(passage.date or "")
        except ValueError:
            return False
        return self.as_of is not None and (self.as_of - published).days > STALE_DAYS

    def _article_bag(self, passage: Passage) -> WordBag:
        same_article = (p.text for p in self.passages if p.article_id == passage.article_id)
        return WordBag.of(" ".join([passage.title or "", *same_article]))

    @staticmethod
    def _quote(passage: Passage, answer_part: Sequence[Term]) -> str | None:
        """The first sentence of the passage holding the answer part's names and numbers, and most of
        its words."""
        facts = [t for t in answer_part if t.weight > 1]
        total = sum(t.weight for t in answer_part)
        for quote in sentences_of(0, passage):  # never a withheld sentence
            text = quote.text
            bag = WordBag.of(text)
            found = sum(t.weight for t in answer_part if bag.has(t))
            if all(bag.has(t) for t in facts) and found / total >= ANSWER_PART_COVERAGE:
                return text
        return None

    def _another_passage(self, text: str) -> list[int]:
        """A small model often cites the wrong number: the best-matching passage that states it."""
        return next(([n] for n in self._ranked(text) if self.verdict(text, n).supported), [])

    def _ranked(self, text: str) -> list[int]:
        """Passage numbers, the best word match for the text first (ties: the earlier passage)."""
        return sorted(
            range(1, len(self.passages) + 1), key=lambda n: -support_score(text, self.passages[n - 1].text)
        )

    def _reason(self, text: str, cited: list[int]) -> str:
        if not cited:
            return "no passage states it"
        return f"[{cited[0]}]: {self.verdict(text, cited[0]).reason}"


def _is_whole_refusal(checked: list[_Checked]) -> bool:
    """Refused when it says the passages lack the answer and says nothing else that is an answer."""
    has_refusal = any(c.kind == "refusal" for c in checked)
    answers = [c for c in checked if c.kind == "claim" or (c.kind == "filler" and c.sentence.citations)]
    return not checked or (has_refusal and not answers)


def _nothing_supported(checked: list[_Checked]) -> bool:
    """Every claim is unsupported: the model answered from its own knowledge, so the bot refuses
    (unless a claim only restated the question: `_Checker.quote_instead`)."""
    claims = [c for c in checked if c.kind == "claim"]
    return bool(claims) and not any(c.sentence.supported for c in claims)


def with_markers(text: str, citations: list[int]) -> str:
    """Markers go before the final full stop ("on Sunday [1]."), or last after a closing quote."""
    if not citations:
        return text
    markers = "".join(f"[{n}]" for n in citations)
    end = re.search(r"[.!?]+$", text)
    if end:
        return f"{text[: end.start()].rstrip()} {markers}{end.group()}"
    return f"{text} {markers}"


def _citations(
    sentences: list[AnswerSentence], passages: Sequence[Passage], checker: _Checker
) -> list[Citation]:
    """One Citation per cited passage: its best support, and the passage sentence that best supports it."""
    by_n: dict[int, Citation] = {}
    best_span_score: dict[int, float] = {}
    for sentence in sentences:
        for n in sentence.citations:
            passage = passages[n - 1]
            start, end, span_score = best_supporting_span(sentence.text, passage)
            verified = sentence.supported and checker.verdict(sentence.text, n).supported
            support = 1.0 if verified else support_score(sentence.text, passage.text)
            citation = by_n.setdefault(n, Citation(n, passage, start, end, support))
            citation.support = max(citation.support, support)
            if span_score > best_span_score.get(n, -1.0):
                best_span_score[n] = span_score
                citation.quote_start, citation.quote_end = start, end
    return [by_n[n] for n in sorted(by_n)]


# --- dating the answer ------------------------------------------------------------------------------


# First words that are not names, so "As of ..., the talks ended" reads right after the lead-in.
_PLAIN_FIRST_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "a an the it its they their he his she her this that these those there on in at by for after "
        "before during from to with about some many most one two three"
    ).split()
)


def pointed_answer(
    question: str,
    raw: str,
    passages: Sequence[Passage],
    *,
    asked: str | None = None,
    article_text: ArticleText | None = None,
    statement: bool = False,
    rules: frozenset[str] = QUESTION_RULES,
) -> Answer:
    """The Answer for what a pointing answerer wrote: read (`statement`: the extractive answerer's
    own sentences), checked and quoted by qa_bot.answering.quoting against `asked` (the standalone question;
    default `question`). The short answer (or, for a statement, the quoted sentences) with their [n];
    each citation marks its quote in the article. A refusal keeps what the model wrote, and why it
    was not shown."""
    pointer = (extractive_pointer if statement else parse_pointer)(raw, len(passages))
    quoted = quote_answer(
        asked or question, pointer, passages, article_text, statement=statement, rules=rules
    )
    if not quoted.answered:
        rejected = [AnswerSentence(pointer.answer or "", pointer.passages, False, quoted.refusal or "")]
        return Answer(
            question=question,
            text=refusal_text(asked or question, passages, quoted.refusal),
            refused=True,
            passages=list(passages),
            raw_text=raw,
            rejected=rejected if pointer.answer else [],
            refusal_reason=quoted.refusal,
        )
    if quoted.short_answer:
        sentences = [AnswerSentence(quoted.short_answer, [q.n for q in quoted.quotes], True)]
    else:
        sentences = [AnswerSentence(q.text, [q.n], True) for q in quoted.quotes]
    citations: dict[int, Citation] = {}
    for quote in quoted.quotes:
        citations.setdefault(quote.n, Citation(quote.n, passages[quote.n - 1], quote.start, quote.end, 1.0))
    answer = Answer(
        question=question,
        text="",
        refused=False,
        sentences=sentences,
        citations=[citations[n] for n in sorted(citations)],
        passages=list(passages),
        raw_text=raw,
        short_answer=quoted.short_answer,
        quotes=list(quoted.quotes),
    )
    answer.text = _rebuild_text(answer)
    return answer


def date_the_answer(answer: Answer, as_of: date | None = None) -> Answer:
    """Say up front when the news was reported, when its age matters.

    News answers go stale: an answer drawn from an article more than STALE_DAYS older than the day
    the question is asked starts with "As of <article date>, ...", so the reader sees the age before
    the claim; and when the question asks about now ("this week", "latest"), old news does not
    answer it at all, so the bot refuses, naming the newest article's date. A question about time
    ("when", "which day") gets the same lead-in when the answer doesn't give the date itself, since
    "on Sunday" means little without it.
    """
    if answer.refused or not answer.citations:
        return answer
    published = _newest_date(answer, _first_supported(answer))
    if published is None:
        return answer
    stale = as_of is not None and (as_of - published).days > STALE_DAYS
    if stale and asks_about_now(answer.question):  # "this week", "latest": last year's news is not the answer
        return _stale_refusal(answer, published, as_of)
    dated = _mentions_date(answer.text, published)  # "Sunday 16 April 2023": its age is in plain view
    about_time = asks_about_time(answer.question)
    # Search lets in articles published up to a week after the day asked (AS_OF_SLACK_DAYS): an
    # answer from one says so, or it would read as news from the future.
    after = (published - as_of).days if as_of is not None and published > as_of else 0
    if after or ((stale or about_time) and not dated):
        first = answer.sentences[0]
        first.text = _as_of(published, first.text, after)
        answer.text = _rebuild_text(answer)
    return answer


def _stale_refusal(answer: Answer, published: date, as_of: date) -> Answer:
    days = (as_of - published).days
    newest = max((p.date[:10] for p in answer.passages if _is_iso(p.date)), default=None)
    newer = newest is not None and date.fromisoformat(newest) > published
    text = (
        f"The articles don't say for the time you ask about. The answer I found is from an article of "
        f"{_long(published)}, {days} days before {_long(as_of)}"
        + (f"; the newest article I read is from {_long(date.fromisoformat(newest))}" if newer else "")
        + f'. To ask about that time, ask as of an earlier date (the chat\'s "Ask as of" date, or '
        f"qa-bot ask --as-of {published.isoformat()})."
    )
    return Answer(
        question=answer.question,
        text=text,
        refused=True,
        passages=answer.passages,
        raw_text=answer.raw_text,
        rejected=answer.rejected,
    )


def _first_supported(answer: Answer) -> AnswerSentence:
    return next((s for s in answer.sentences if s.supported and s.citations), answer.sentences[0])


def _newest_date(answer: Answer, sentence: AnswerSentence) -> date | None:
    """The newest date among the passages the sentence cites (or, failing that, the answer cites)."""
    by_n = {c.n: c.passage for c in answer.citations}
    numbers = sentence.citations or list(by_n)
    days = []
    for n in numbers:
        try:
            days.append(date.fromisoformat(by_n[n].date or ""))
        except (KeyError, ValueError):
            continue
    return max(days, default=None)


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _as_of(published: date, text: str, days_after: int = 0) -> str:
    """ "As of 16 April 2023, they spoke ..." when the first word can go in lower case; a colon
    otherwise, which reads right before a name, a short answer or a capital that must stay
    ("As of 16 April 2023: Sunday", "As of 16 April 2023: Earlier in March, ..."). `days_after`:
    the article is that many days newer than the day asked, which the lead-in says."""
    when = _long(published)
    if days_after:
        later = "a day" if days_after == 1 else f"{days_after} days"
        when += f" (published {later} after the date you asked about)"
    word = text.split(" ", 1)[0]
    if word.lower() in _PLAIN_FIRST_WORDS:
        return f"As of {when}, {text[:1].lower()}{text[1:]}"
    return f"As of {when}: {text}"


def _rebuild_text(answer: Answer) -> str:
    return " ".join(with_markers(s.text, s.citations) for s in answer.sentences)


def _mentions_date(text: str, day: date) -> bool:
    return day.isoformat() in text or (str(day.year) in text and f"{day:%B}" in text)


# --- streaming -------------------------------------------------------------------------------------


def stream_display_text(partial: str) -> str:
    """What to show while tokens arrive: the sentinel (or its first letters) never flashes on screen;
    of a pointer ("Answer: ... / Passage: [n]"), only the answer's words so far."""
    shown = partial.strip()
    if shown and looks_like_pointer(shown):
        return partial_answer(partial)
    if _is_sentinel(shown):
        return REFUSAL_MESSAGE
    if shown and NOT_IN_PASSAGES.lower().startswith(shown.lower()):
        return ""
    return partial
