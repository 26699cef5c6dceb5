"""The knowledge layer: documents in Chroma, permission-filtered retrieval.

Modules are imported on demand; importing this package loads no model and opens no store.

- ``embeddings``: offline all-MiniLM-L6-v2 on onnxruntime, or OpenAI embeddings.
- ``corpus`` / ``chunking``: read markdown, text and JSONL documents, render policy placeholders, split.
- ``store``: the Chroma client, the one collection and its persisted lexical index.
- ``lexical``: BM25 (SQLite FTS5 behind the ``LexicalIndex`` interface).
- ``ingest``: idempotent, batched ingestion of a folder by content hash.
- ``documents``: ``add_documents`` / ``delete_documents`` from Python.
- ``retrieval``: :class:`~opsgraph.knowledge.retrieval.Retriever` (vector + BM25, fused).
- ``progress``: a terminal progress display for long ingests.
- ``cli``: ``opsgraph kb ingest | search | delete | stats``.
"""
