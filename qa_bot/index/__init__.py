"""Index: `Article`s become searchable passages, and a question finds them again.

store.py          Index: ingest (a keyword pass: chunks into the catalog, the keyword index; then an
                  embedding pass behind it, resumable), status, and the consistency of what it holds
chunk_store.py    LangChain's Chroma store, embedding from the chunker's word-pieces
chunking.py       an article's passages, sized in the model's word-pieces, with offsets into it
catalog.py        each article's text, metadata and chunks, and whether its vectors are all in Chroma
keyword_index.py  the BM25 keyword index (bm25s) over every chunk in the catalog
embeddings.py     the embedding model: the packaged MiniLM (offline) or OpenAI's
model_files.py    the packaged MiniLM's weights and tokenizer, and its word-piece ids
onnx_minilm.py    the MiniLM run by onnxruntime (imported only when a model is built)
lock.py           one writer per index, across processes and machines
search.py         Passage, Query, Filters; HybridRetriever: vectors + keywords, fused by rank
"""
