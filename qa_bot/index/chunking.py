"""Passages of an article, sized for the embedding model, with character offsets into its text.

all-MiniLM-L6-v2 reads at most 256 word-pieces and silently drops the rest, so chunks are measured
in its own word-pieces, not characters. LangChain's RecursiveCharacterTextSplitter does the
splitting: paragraphs first, then lines, sentences, clauses and words, keeping each separator at
the end of the piece before it so that sentences stay whole.

Overlap: the splitter carries whole pieces of the current level (sentences, usually) from the end
of one chunk into the next, up to `overlap_tokens`. Where a chunk ends at a paragraph boundary and
the paragraphs are longer than the overlap, consecutive chunks do not overlap: the paragraph break
is a natural place to cut.

Each article is tokenized once. The splitter measures its pieces by counting the article's own
word-pieces between the piece's ends (`_ArticleTokens`), and each chunk keeps its slice of those
ids, so ingest embeds it without tokenizing again (`Chunk.token_ids`,
`qa_bot.index.model_files.wrap_for_model`).
Word-pieces never cross a word boundary, so the count is the same as tokenizing the piece alone; a
piece cut inside a word (only the last-resort character split makes those) is tokenized alone.

Every chunk is a Document whose `page_content == article.text[start:end]`, with `start` and `end`
in its metadata. The offsets are found here rather than with the splitter's `add_start_index`,
which guesses where to search from by subtracting `chunk_overlap` as if it were characters; with
an overlap in word-pieces it searches too far ahead and finds a later copy of a repeated passage,
or none (-1).
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa_bot.index.model_files import MAX_TOKENS, load_tokenizer
from qa_bot.ingest.articles import Article
from qa_bot.settings import Settings, get_settings

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
# The model adds [CLS] and [SEP] to every text it reads.
SPECIAL_TOKENS = 2
_LEADING_BLANKS = re.compile(r"\s*")


@lru_cache(maxsize=1)
def _counting_tokenizer() -> Any:
    # load_tokenizer() truncates at 256 for the model; counting must see the whole text.
    tokenizer = load_tokenizer()
    tokenizer.no_truncation()
    return tokenizer


def token_count(text: str) -> int:
    """MiniLM word-pieces in `text`, without the [CLS]/[SEP] the model adds."""
    return len(token_ids(text))


def token_ids(text: str) -> list[int]:
    """MiniLM word-piece ids of `text`, without [CLS]/[SEP]."""
    return _counting_tokenizer().encode(text, add_special_tokens=False).ids


class Chunk(NamedTuple):
    document: Document
    token_ids: list[int]  # the chunk's word-pieces, without [CLS]/[SEP]


class _ArticleTokens:
    """One article's word-pieces with their character offsets: counts pieces without re-tokenizing."""

    def __init__(self, text: str, encoding: Any = None) -> None:
        if encoding is None:
            encoding = _counting_tokenizer().encode(text, add_special_tokens=False)
        self.text = text
        self.ids = encoding.ids
        self.starts = [start for start, _ in encoding.offsets]
        words = encoding.word_ids
        # Where a pre-tokenizer word begins and ends: a piece cut there has exactly these word-pieces.
        self.word_starts = {
            s for i, (s, _) in enumerate(encoding.offsets) if i == 0 or words[i - 1] != words[i]
        }
        last = len(words) - 1
        self.word_ends = {
            e for i, (_, e) in enumerate(encoding.offsets) if i == last or words[i + 1] != words[i]
        }
        self._cursor = 0
        self._counts: dict[str, int] = {}

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """Token index range of text[start:end], or None where its ends cut a word."""
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        if start == end:
            return (0, 0)
        if start not in self.word_starts or end not in self.word_ends:
            return None
        return bisect_left(self.starts, start), bisect_left(self.starts, end)

    def count(self, piece: str) -> int:
        """The splitter's length function: word-pieces of `piece`, a part of the article's text."""
        if piece not in self._counts:
            self._counts[piece] = self._count(piece)
        return self._counts[piece]

    def _count(self, piece: str) -> int:
        # The splitter measures pieces roughly in reading order, so search on from the last one.
        start = self.text.find(piece, self._cursor)
        if start < 0:
            start = self.text.find(piece)
        if start >= 0:
            self._cursor = start
            span = self.span(start, start + len(piece))
            if span is not None:
                return span[1] - span[0]
        return token_count(piece)

    def chunk_ids(self, start: int, end: int) -> list[int]:
        span = self.span(start, end)
        return self.ids[span[0] : span[1]] if span is not None else token_ids(self.text[start:end])


class Chunker:
    """Splits articles into passages of at most `chunk_tokens` word-pieces (build once, reuse)."""

    def __init__(self, chunk_tokens: int = 120, overlap_tokens: int = 24) -> None:
        if chunk_tokens + SPECIAL_TOKENS > MAX_TOKENS:
            raise ValueError(
                f"chunk_tokens={chunk_tokens} is more than the embedding model reads "
                f"({MAX_TOKENS - SPECIAL_TOKENS}); lower QA_BOT_CHUNK_TOKENS"
            )
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError(
                f"overlap_tokens={overlap_tokens} must be at least 0 and below chunk_tokens={chunk_tokens}; "
                "lower QA_BOT_CHUNK_OVERLAP_TOKENS"
            )
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def _splitter(self, length_function) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            keep_separator="end",
            chunk_size=self.chunk_tokens,
            chunk_overlap=self.overlap_tokens,
            length_function=length_function,
            strip_whitespace=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Chunker:
        return cls(settings.chunk_tokens, settings.chunk_overlap_tokens)

    def chunk(self, article: Article) -> list[Document]:
        return [chunk.document for chunk in self.split(article)]

    def split_many(self, articles: list[Article]) -> list[list[Chunk] | Exception]:
        """`split` of each article, the articles tokenized together (the tokenizer spreads a batch
        over the cores); an article that cannot be split gets its exception instead of its chunks."""
        try:
            encodings = _counting_tokenizer().encode_batch(
                [article.text for article in articles], add_special_tokens=False
            )
        except Exception:  # one bad text: each is tokenized alone, and fails alone
            encodings = [None] * len(articles)
        results: list[list[Chunk] | Exception] = []
        for article, encoding in zip(articles, encodings, strict=True):
            try:
                results.append(self.split(article, encoding))
            except Exception as exc:  # an unforeseen input: this article's failure only
                results.append(exc)
        return results

    def split(self, article: Article, encoding: Any = None) -> list[Chunk]:
        """The article's passages, each with its word-piece ids; the article is tokenized once
        (`encoding`: its tokenization without special tokens, when already made)."""
        tokens = _ArticleTokens(article.text, encoding)
        pieces = self._splitter(tokens.count).split_text(article.text)
        chunks = []
        for index, (piece, start) in enumerate(zip(pieces, _offsets(article.text, pieces), strict=True)):
            end = start + len(piece)
            document = Document(page_content=piece, metadata=chunk_metadata(article, index, start, end))
            chunks.append(Chunk(document, tokens.chunk_ids(start, end)))
        return chunks


def chunk_article(
    article: Article, chunk_tokens: int | None = None, overlap_tokens: int | None = None
) -> list[Document]:
    """The article's passages; sizes default to the settings (QA_BOT_CHUNK_TOKENS, ..._OVERLAP_TOKENS)."""
    if chunk_tokens is None or overlap_tokens is None:
        settings = get_settings()
        chunk_tokens = settings.chunk_tokens if chunk_tokens is None else chunk_tokens
        overlap_tokens = settings.chunk_overlap_tokens if overlap_tokens is None else overlap_tokens
    return _chunker(chunk_tokens, overlap_tokens).chunk(article)


@lru_cache(maxsize=4)
def _chunker(chunk_tokens: int, overlap_tokens: int) -> Chunker:
    return Chunker(chunk_tokens, overlap_tokens)


def _offsets(text: str, pieces: list[str]) -> Iterator[int]:
    """Where each piece starts in `text`.

    The splitter keeps every non-blank character, in order, so a piece starts after the previous
    piece's start and no later than the first non-blank character after the previous piece's end.
    A repeated passage can match more than once in that window; the last match is the one that
    continues the previous piece (and any match holds the same characters). In very repetitive text
    (a line repeated a thousand times, one endless word) taking the last match each time drifts ahead
    of the splitter until a piece no longer fits the window: then the piece's first match from where
    it may start is taken, or its first match anywhere, which hold the same characters too.
    """
    after = 0  # the piece starts at or after this
    previous_end = 0
    for piece in pieces:
        latest = _LEADING_BLANKS.match(text, previous_end).end()
        start = text.rfind(piece, after, latest + len(piece))
        if start < 0:
            start = text.find(piece, after)
        if start < 0:
            start = text.find(piece)
        if start < 0:  # cannot happen unless the splitter starts changing the text
            raise ValueError(f"a chunk is not in the article text: {piece[:80]!r}")
        yield start
        after, previous_end = start + 1, start + len(piece)


def chunk_token_ids(article: Article, spans: list[tuple[int, int]]) -> list[list[int]]:
    """The word-piece ids of these (start, end) chunks of the article, as `Chunker.split` gave them:
    the article is tokenized once, not each chunk (the embedding pass, long after the chunking)."""
    tokens = _ArticleTokens(article.text)
    return [tokens.chunk_ids(start, end) for start, end in spans]


def chunk_id(document: Document) -> str:
    """A chunk's id: a hash of its text and metadata, as LangChain's indexing API (`index()`,
    key_encoder="sha256") computes it, which gave the ids of indexes built before the catalog kept
    chunks: their vectors keep their ids, and a chunk already in Chroma is never embedded again."""
    content = hashlib.sha256(document.page_content.encode("utf-8")).hexdigest()
    meta = hashlib.sha256(json.dumps(document.metadata, sort_keys=True).encode("utf-8")).hexdigest()
    return hashlib.sha256((content + meta).encode("utf-8")).hexdigest()


def chunk_metadata(article: Article, index: int, start: int, end: int) -> dict[str, Any]:
    """What Chroma stores with a chunk (and its id hashes): its article's fields and where it is."""
    metadata = {
        "article_id": article.id,
        "title": article.title,
        "date": article.date,
        "source": article.source,
        "path": article.path,
        "url": article.url,
        "source_key": article.source_key,
        "start": start,
        "end": end,
        "chunk_index": index,
        # Undated articles get 0: they pass an "until" filter and fail a "since" one.
        "date_int": article.date_int or 0,
    }
    # Chroma rejects None metadata values.
    return {key: value for key, value in metadata.items() if value is not None}
