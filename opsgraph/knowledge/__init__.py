"""The knowledge layer: the shipped policy/SOP corpus in Chroma, permission-filtered retrieval.

Modules are imported on demand; importing this package loads no model and opens no store.

- ``embeddings``: offline all-MiniLM-L6-v2 on onnxruntime, or OpenAI embeddings.
- ``corpus`` / ``chunking``: read markdown documents, render policy placeholders, split.
- ``store``: the Chroma client and the one collection.
- ``ingest``: idempotent ingestion by content hash.
- ``retrieval``: :class:`~opsgraph.knowledge.retrieval.Retriever` (vector + BM25, fused).
- ``cli``: ``opsgraph kb ingest | search | stats``.
"""
