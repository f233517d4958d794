"""The verifier: does the cited passage's text state this claim?

The answer stage uses it to keep, move or drop a model's citations, and the answer log to find the
sentence behind a citation; the evaluation scores citation precision with `qa_bot.text`'s score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from qa_bot.answering.injection import evidence_view, withheld_spans
from qa_bot.index.search import Passage
from qa_bot.now import claim_now_cue
from qa_bot.text import (
    STOP_WORDS,
    WORD,
    Term,
    WordBag,
    content_terms,
    fold_word,
    split_sentences,
    support_score,
    terms_support,
    weighted_coverage,
    word_stem,
)


def passage_support(claim: str, passage: Passage) -> float:
    """Like `support_score`, but the passage's title and date count too (the prompt shows them)."""
    return support_score(claim, source_text(passage.text, passage.title, passage.date))


def source_text(text: str, title: str | None, published: str | None) -> str:
    """What a cited source shows its reader: the passage, its article's title and its date."""
    return f"{text}\n{title or ''}\n{_date_words(published)}"


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
    terms = content_terms(claim)
    best: tuple[int, int, float] | None = None
    withheld = set(withheld_spans(passage.text))  # never shown as the sentence that supports anything
    for start, end in split_sentences(passage.text):
        if (start, end) in withheld:
            continue
        score = terms_support(terms, WordBag.of(passage.text[start:end]))
        if best is None or score > best[2]:  # ties go to the earlier sentence
            best = (passage.start + start, passage.start + end, score)
    return best or (passage.start, passage.end, 0.0)


# --- the verifier: does the cited passage's text state this claim? ------------------------------------
#
# Sharing words is not enough: a passage that mentions the same people "supports" any claim about them
# by word count alone. So a claim is supported only when
#   1. every name, number and date in it occurs in the passage TEXT (not its title or date line);
#   2. the part that answers the question (the claim's words the question doesn't have) is stated in
#      one place of the passage, with all the claim's names and numbers: a sentence and its
#      neighbours, not scattered over it;
#   3. where it says "<Name> <did>", the passage does not say that someone else did it;
#   4. a claim about "this week" or "today" is not backed by an article more than a week old ("this
#      month", "currently": a month);
# and sentences of the passage that address the assistant never count (qa_bot.answering.injection).

# Share of the answer part's plain words (names and numbers must all be there) found in one place.
ANSWER_PART_COVERAGE = 0.6
# A claim's words overall, anywhere in the passage: what the old word-count rule asked, still a floor.
OVERALL_COVERAGE = 0.6
ROLE_WINDOW = 4  # words before an action within which its doer is named
# The lead-in the app adds to an answer that relies on an older article ("As of 12 March 2023, ...").
AS_OF_LEAD_IN = re.compile(r"^As of \d{1,2} [A-Z][a-z]+ \d{4}[,:] ")


class Verdict(NamedTuple):
    supported: bool
    reason: str  # why not, for people ("'Berlin' is not in the passage"); "" when supported


def verify_claim(
    claim: str,
    passage_text: str,
    *,
    question: str = "",
    passage_date: str | None = None,
    as_of: date | None = None,
) -> Verdict:
    """Whether `passage_text` states `claim` (an answer sentence without its [n] markers)."""

    claim = AS_OF_LEAD_IN.sub("", claim.strip())
    terms = content_terms(claim)
    if not terms:
        return Verdict(False, "the sentence states nothing to check")
    body = evidence_view(passage_text)
    foreign_link = _link_not_in(claim, body)
    if foreign_link:
        return Verdict(False, f"the link {foreign_link} is not in the passage text")
    bag = WordBag.of(body)
    terms = _first_word_as_name(claim, terms, bag)
    terms = _without_publication_date(terms, bag, passage_date)
    if not terms:
        return Verdict(False, "the sentence states only the article's date")
    missing = [t.word for t in terms if t.weight > 1 and not _in_passage(t, claim, bag, body)]
    if missing:
        return Verdict(False, f"{_quoted(missing)} not in the passage text")
    if weighted_coverage(terms, bag) < OVERALL_COVERAGE:
        return Verdict(False, "most of the sentence's words are not in the passage")
    question_stems = {t.stem for t in content_terms(question)}
    answer_part = [t for t in terms if t.stem not in question_stems] or terms
    if not _stated_in_one_place(answer_part, [t for t in terms if t.weight > 1], claim, body):
        return Verdict(False, "the answer's words are not stated together in the passage")
    wrong_doer = _wrong_doer(claim, body)
    if wrong_doer:
        return Verdict(False, wrong_doer)
    stale_cue = _stale_cue(claim, passage_date, as_of)
    if stale_cue:
        return Verdict(False, f"it says '{stale_cue}' from an article of {passage_date}")
    return Verdict(True, "")


def facts_not_in(claim: str, passage_text: str) -> list[Term]:
    """The claim's names and numbers that the passage text lacks, read as `verify_claim` reads them
    (a capitalised first word is a name unless the text has it in lower case)."""

    claim = AS_OF_LEAD_IN.sub("", claim.strip())
    body = evidence_view(passage_text)
    bag = WordBag.of(body)
    terms = _first_word_as_name(claim, content_terms(claim), bag)
    return [t for t in terms if t.weight > 1 and not _in_passage(t, claim, bag, body)]


_LINK = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)


def _link_not_in(claim: str, body: str) -> str:
    """A URL the sentence gives that the passage's text does not: the classic exfiltration, where a
    planted line has the model append the reader's question to someone's address."""
    for match in _LINK.finditer(claim):
        link = match.group().rstrip(".,;:!?")
        if link not in body:
            return link
    return ""


def words_from_planted(claim: str, planted: Sequence[str], passage_texts: Sequence[str]) -> list[str]:
    """The claim's words that only a planted instruction holds: none of the evidence passages has
    them, one of the planted sentences does. A model that writes them has obeyed that instruction,
    even where the rest of the sentence ("Maria Lopez ... mayor of Easton") is in the evidence."""
    if not planted:
        return []
    evidence = WordBag.of(" ".join(passage_texts))
    instructions = WordBag.of(" ".join(planted))
    return [t.word for t in content_terms(claim) if not evidence.has(t) and instructions.has(t)]


def _first_word_as_name(claim: str, terms: list[Term], bag: WordBag) -> list[Term]:
    """A capitalised first word is a name ("Obama announced ...") unless the passage uses it in lower
    case ("Officials said ..."): names are capitalised wherever they stand."""
    first = WORD.search(claim)
    if first is None or not first.group()[0].isupper():
        return terms
    word = first.group().lower()
    if word in STOP_WORDS or word in bag.words:
        return terms
    return [Term(t.word, t.stem, 2.0) if t.word == word else t for t in terms]


def _without_publication_date(terms: list[Term], bag: WordBag, passage_date: str | None) -> list[Term]:
    """Leave out the words of the cited article's own date ("on Sunday 16 April 2023") that its text
    lacks: the reader sees that date on the source, so it is neither evidence nor a false claim."""
    if not passage_date:
        return terms
    try:
        published = date.fromisoformat(passage_date)
    except ValueError:
        return terms
    date_bag = WordBag.of(f"{_date_words(passage_date)} {published:%A}")
    return [t for t in terms if bag.has(t) or not date_bag.has(t)]


def _quoted(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words) + (" is" if len(words) == 1 else " are")


def _stated_in_one_place(answer_part: Sequence[Term], facts: Sequence[Term], claim: str, body: str) -> bool:
    """All the claim's names and numbers, and most of its answer part's words, in one sentence window.

    The names and numbers the claim repeats from the question count too: an answer about another
    event that merely shares a name with the question ("Biden visited Kenya" for a question about
    his trip to Ukraine) states them elsewhere in the passage, if at all.
    """
    for window in _sentence_windows(body):
        bag = WordBag.of(window)
        if (
            all(_in_passage(t, claim, bag, window) for t in facts)
            and weighted_coverage(answer_part, bag) >= ANSWER_PART_COVERAGE
        ):
            return True
    return False


def _sentence_windows(text: str) -> list[str]:
    """Each sentence with its neighbours: a pronoun's name is usually one sentence away."""
    spans = split_sentences(text)
    return [text[spans[max(i - 1, 0)][0] : spans[min(i + 1, len(spans) - 1)][1]] for i in range(len(spans))]


_TOKEN = re.compile(r"[^\W_]+(?:['’][a-z]+)?")


def _wrong_doer(claim: str, body: str) -> str:
    """A reason when the claim says "<Name> <action>" and the passage gives the action to someone else.

    Only checked where the passage uses the same action word; a paraphrase is left to the other tests.
    """
    for name, action in _name_actions(claim):
        doers = _doers(body, action)
        if doers and not any(name & doer for doer in doers):
            return f"the passage says someone else {action.word}"
    return ""


def _name_actions(claim: str) -> list[tuple[set[str], Term]]:
    """(stems of a name, the verb right after it): "Biden has announced" -> ({biden}, announced)."""
    tokens = [_plain(m.group()) for m in _TOKEN.finditer(claim)]
    pairs = []
    name: set[str] = set()
    for i, word in enumerate(tokens):
        if _is_name(word) and (i > 0 or word.lower() not in STOP_WORDS):
            name.add(word_stem(fold_word(word)))
            continue
        # "Cosby was found liable": he is no doer
        if name and _is_action(word) and not _is_passive(tokens[i - 1] if i else "", word):
            pairs.append((name, Term(word.lower(), word_stem(word.lower()), 1.0)))
        if word.lower() not in STOP_WORDS or not name:
            name = set()
    return pairs


# Past-tense verbs that say who did what; regular ones end in -ed. Other words after a name ("climate
# change", "women's basketball") are not actions and are left to the other tests.
_IRREGULAR_ACTIONS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "won lost beat said told met led gave made took sold bought wrote spoke became left ran chose hit "
        "struck sent paid found began quit fought fled shot stole threw brought caught held kept"
    ).split()
)
_NOT_NAMES = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
        "july august september october november december"
    ).split()
)


def _is_action(word: str) -> bool:
    lower = word.lower()
    return (
        word.islower() and lower not in STOP_WORDS and (lower.endswith("ed") or lower in _IRREGULAR_ACTIONS)
    )


def _is_name(token: str) -> bool:
    return token[:1].isupper() and token.lower() not in STOP_WORDS and token.lower() not in _NOT_NAMES


def _plain(token: str) -> str:
    """The token without a possessive: "Fiji's" -> "Fiji"."""
    return re.sub(r"['’]s$", "", token)


# A pronoun between a doer and the action ("Biden flew to Kyiv, where he announced ...") hides who did
# it: such a place of the passage neither confirms nor contradicts the claim.
_PRONOUNS = frozenset("he she they it we i who which".split())  # noqa: SIM905


def _refers_back(before: Sequence[str]) -> bool:
    """Whether the doer just before an action is a pronoun ("he said") or a definite description
    ("the agency issued", "the chain is bringing"): either may stand for the name the claim gives."""
    last = [t for t in before[-3:] if t.lower() not in _AUXILIARIES]
    if any(t.lower() in _PRONOUNS for t in last[-2:]):
        return True
    return len(last) >= 2 and last[-2].lower() in {"the", "this"} and last[-1].islower()


_BE_FORMS = frozenset("is are was were be been being".split())  # noqa: SIM905
_AUXILIARIES = frozenset("is are was were has have had will would also".split())  # noqa: SIM905


def _is_passive(previous: str, verb: str) -> bool:
    """ "was held", "were found"; "is demanding" is not passive."""
    return previous.lower() in _BE_FORMS and not verb.lower().endswith("ing")


def _is_verb_form(token: str, action: Term) -> bool:
    """ "paid" for "paid", "demanding" for "demanded"; not the noun "stars" for "starred"."""
    lower = token.lower()
    return lower == action.word or (lower.endswith(("ed", "ing")) and word_stem(lower) == action.stem)


def _doers(body: str, action: Term) -> list[set[str]]:
    """For each place the passage uses the action word ("paid", "demanding"): the stems of the words
    just before it, names or not ("an anonymous bidder paid", "the court agreed").

    In the passive ("was held in Ghana") only a "by" names the doer. Empty when some place hides its
    doer behind a pronoun or "the <noun>": then nobody can be ruled out.
    """
    tokens = [_plain(m.group()) for m in _TOKEN.finditer(body)]
    doers = []
    for i, token in enumerate(tokens):
        if not _is_verb_form(token, action):
            continue
        before = tokens[max(0, i - ROLE_WINDOW) : i]
        if _refers_back(before):
            return []
        after = tokens[i + 1 : i + 3]
        passive = _is_passive(before[-1] if before else "", token)  # "the summit was held in Ghana"
        words = set() if passive else {word_stem(fold_word(t)) for t in before if t.lower() not in STOP_WORDS}
        if after[:1] and after[0].lower() == "by":  # "was announced by Biden"
            words |= {word_stem(fold_word(t)) for t in after[1:] if _is_name(t)}
        if words:
            doers.append(words)
    return doers


def _stale_cue(claim: str, passage_date: str | None, as_of: date | None) -> str:
    """The claim's "now" cue when the cited article is too old to say it ("this week" from a month ago)."""
    found = claim_now_cue(claim)
    if not (found and passage_date and as_of):
        return ""
    try:
        age = (as_of - date.fromisoformat(passage_date)).days
    except ValueError:
        return ""
    cue, limit_days = found
    return cue if age > limit_days else ""


def _in_passage(term: Term, claim: str, bag: WordBag, body: str) -> bool:
    return bag.has(term) or _spelled_out(term.word, claim, body)


def _spelled_out(word: str, claim: str, body: str) -> bool:
    """Whether the passage spells out an abbreviation the claim uses: "FDA" for "Food and Drug
    Administration" (its capitalised words' initials; "and", "of", "the", "for" are skipped)."""
    initials = word.upper()
    if not (2 <= len(word) <= 6 and word.isalpha() and re.search(rf"\b{initials}\b", claim)):
        return False
    pattern = r"\b" + r"\W+(?:(?:and|of|the|for|&)\W+)?".join(f"{c}[\\w'’.-]*" for c in initials) + r"\b"
    return re.search(pattern, body) is not None
