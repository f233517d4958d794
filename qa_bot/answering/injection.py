"""Planted instructions: article sentences that address the assistant instead of the reader.

Article text is hostile input. A news sentence never tells "the assistant" what to say, never opens
with "SYSTEM:", and never forges a numbered passage header; text that does is an attempt to steer
the model. Such sentences are never sent to the model as evidence, never count as support for an
answer, and are shown to the reader as suspicious (`qa_bot.answering.evidence` finds them, the UI shows them).
"""

from __future__ import annotations

import re
import unicodedata

from qa_bot.text import split_sentences

# Each pattern names one way text addresses a model. They are deliberately about the *form* of an
# instruction (imperatives aimed at an AI, role headers, forged markers), not about topics, so real
# reporting about AI ("the chatbot told users ...") is not flagged by a single word.
_PATTERNS = [
    # An override names what the model was given; "ignore the state's guidelines" is news.
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|these\s+|those\s+)?(?:(?:previous|prior|above|earlier|preceding|original|system|other)\s+)?(?:instructions?|prompts?|directions?\s+you)\b",
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier|preceding|original|system)\s+(?:rules|guidelines|context|passages?|text|evidence)\b",
    r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:above|before|else)\b|\b(?:ignore|disregard|forget)\s+(?:the\s+)?(?:passages?|text|evidence|context)\s+above\b",
    # The same override in the languages a newsroom's wires carry (the model reads them all).
    r"\b(?:ignorez|oubliez|ignora|ignore[nz]?|olvida|ignoriere|ignorieren|vergiss)\b[^.]{0,40}\b(?:instructions|consignes|instrucciones|istruzioni|instruções|anweisungen)\b",
    # "When asked about X, say ...": the imperative right after the clause. Reporting reads "When asked
    # about X, the minister said ..." (about one news sentence in ten thousand had the looser form).
    r"\b(?:when|if)\s+(?:you\s+are\s+|you['’]re\s+)?(?:asked|questioned|prompted)\b[^.,]{0,80},\s*(?:just\s+|simply\s+)?(?:say|answer|reply|respond|state|tell|claim|write)\b",
    r"(?:^|[.;:!?]\s+)always\s+(?:say|answer|reply|respond|state|claim)\b",  # not "I always say"
    r"\b(?:you\s+must|you\s+should|please)\s+(?:say|answer|reply|respond|state)\s+(?:that|with|only)\b",
    r"\b(?:assistant|chatbot|language\s+model|ai\s+model|llm)\s*[,:]\s*(?:you|please|ignore|say|answer)",
    r"\b(?:as\s+an?\s+)?(?:ai|language\s+model)\s+(?:assistant\s+)?(?:you|reading\s+this)\b",
    r"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|chatbot|language\s+model|helpful)\b",
    # A role header opens a line or sentence ("the education system: they were not ready" is prose),
    # or shouts anywhere.
    r"(?:^|[\[(<|>])\s*(?:system|assistant|user|developer|ai)\s*:\s|(?-i:\b(?:SYSTEM|ASSISTANT|DEVELOPER)\s*:)",
    r"\bdear\s+(?:ai|assistant|chatbot|llm|language\s+model)\b",
    r"\b(?:ai|llm|chatbot|language\s+model)s?\s+(?:tools?|systems?|models?|assistants?|summari[sz]ers?|readers?)\s+(?:must|should|shall|need\s+to)\b",
    r"(?:^|[;:]\s*)(?:please\s+)?(?:tell|inform)\s+(?:the\s+)?(?:users?|readers?)\b",
    r"\b(?:do\s+not|don['’]t|never)\s+(?:answer|respond\s+to|reply\s+to)\s+(?:any\s+|the\s+)?(?:questions?|queries)\b",
    # Chat-template control tokens (ChatML as the embedded Qwen model uses, Llama's) and fences.
    r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|^\s*#{2,}\s*(?:system|instructions?)\b",
    r"\bEND\s+OF\s+(?:THE\s+)?(?:EVIDENCE|PASSAGES?|CONTEXT|DOCUMENTS?|SOURCES)\b|\bfinal\s+answer\s*:",
    r"</?\s*(?:system|instructions?|evidence|passages?)\s*>",
    r"\b(?:new|updated|real|actual)\s+instructions?\s*:",
    r"\bsystem\s+prompt\b",
    r"\bnotes?\s+(?:to|for)\s+(?:ai|llms?|chatbots?|assistants?|language\s+models?|summari[sz]ers?)\b",
    r"\b(?:ai|llm|chatbot)\s+(?:summar(?:y|ies)|summari[sz]ers?|assistants?|readers?)\s*:",
    r"\b(?:BEGIN|END)\s+EVIDENCE\b",
    r"\bNOT\s+IN\s+PASSAGES\b",
    r"^\s*\[\d{1,3}\]",  # a forged passage header at the start of a sentence or line
    r"!\[[^\]]*\]\(\s*https?://",  # a Markdown image: renders as a request to someone's server
    r"<\s*(?:img|script|iframe)\b|<!--",  # HTML that fetches, runs, or hides text from the reader
    r"\b(?:include|add|append|insert)\s+(?:a\s+link\s+to\s+)?https?://",
    r"\b(?:include|add|append|insert|render|show)\b[^.]{0,40}\b(?:this|the\s+following)\s+(?:link|url|image|markdown)\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE | re.MULTILINE)


def is_planted_instruction(sentence: str) -> bool:
    """Whether one sentence addresses the assistant (see the patterns above)."""
    return bool(_INSTRUCTION.search(_as_read(sentence)))


def _as_read(text: str) -> str:
    """The text as a model reads it: full-width and other compatibility forms folded (NFKC), and
    invisible format characters (zero-width spaces and joiners) removed, so that "I\u200bgnore"
    and "ＳＹＳＴＥＭ" are the words they look like."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def planted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text` that addresses the assistant."""
    return [(start, end) for start, end in split_sentences(text) if is_planted_instruction(text[start:end])]


def without_planted(text: str) -> str:
    """The text with its planted sentences blanked out (offsets kept): what may count as evidence."""
    for start, end in planted_spans(text):
        text = text[:start] + " " * (end - start) + text[end:]
    return text
