"""Chunks into Chroma: LangChain's `Chroma` vector store, embedding from the word-pieces the chunker made.

The embedding pass (qa_bot/index/store.py) hands it the chunks the catalog says have no vector yet.
The chunker has already tokenized each article once, so the packaged model's vectors are computed
from those ids (`model_inputs`) instead of tokenizing every chunk again; a server's model
(`ServerEmbeddings`) gets the text. Writes go through the public chromadb `Collection` the store was
opened with.

Its own module, imported when the vector side opens: langchain_chroma imports chromadb, which takes
about a second, and `qa-bot status` needs none of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

# (source_key, chunk_index) -> the model's input ids for that chunk (qa_bot.index.model_files.wrap_for_model)
ModelInputs = Mapping[tuple[str, int], Sequence[int]]


def titled_text(title: str | None, text: str) -> str:
    """What gets embedded for a chunk: its article's title, then the chunk text."""
    return f"{title}\n{text}" if title else text


class ChunkStore(Chroma):
    """Chroma that stores each chunk's text as is (an exact slice of its article, for citations) and
    embeds it with its article's title in front (`embed_titles`): a news chunk from the middle of an
    article often never names what the story is about; the title does."""

    def __init__(
        self, client, collection_name: str, embeddings: Embeddings, *, metadata: dict, embed_titles: bool
    ):
        # Our own Embeddings object: Chroma's default function would try to download a model.
        super().__init__(
            client=client,
            collection_name=collection_name,
            embedding_function=embeddings,
            collection_metadata=metadata,
        )
        self.chunks = client.get_collection(collection_name, embedding_function=None)
        self.embed_titles = embed_titles

    def add_documents(
        self,
        documents: list[Document],
        ids: list[str] | None = None,
        model_inputs: ModelInputs | None = None,
        **kwargs,
    ) -> list[str]:
        ids = ids or [doc.id for doc in documents]
        self.write(documents, self.vectors(documents, model_inputs or {}), ids)
        return ids

    def write(
        self, documents: list[Document], vectors: list[list[float]], ids: list[str] | None = None
    ) -> None:
        """Stores the chunks with vectors computed before (`vectors`), in one upsert."""
        self.chunks.upsert(
            ids=ids or [doc.id for doc in documents],
            embeddings=vectors,
            documents=[doc.page_content for doc in documents],
            metadatas=[doc.metadata for doc in documents],
        )

    def vectors(self, documents: Iterable[Document], model_inputs: ModelInputs) -> list[list[float]]:
        """The chunks' vectors, in their order: from the word-pieces in `model_inputs` for the packaged
        model (one call: it batches them by length), else from their titled text."""
        documents = list(documents)
        keys = [(doc.metadata.get("source_key"), doc.metadata.get("chunk_index")) for doc in documents]
        embeddings = self.embeddings
        if hasattr(embeddings, "embed_token_ids") and all(key in model_inputs for key in keys):
            return embeddings.embed_token_ids([model_inputs[key] for key in keys])
        # A model that tokenizes for itself (OpenAI's): it gets the text it would embed.
        return embeddings.embed_documents(
            [
                titled_text(doc.metadata.get("title") if self.embed_titles else None, doc.page_content)
                for doc in documents
            ]
        )
