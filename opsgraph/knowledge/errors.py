"""Errors of the knowledge layer; all of them are user-fixable and print as one line."""

from __future__ import annotations

from opsgraph.errors import UserError


class KnowledgeError(UserError):
    """Something about the corpus, the store or the embeddings needs the user's attention."""


class CorpusError(KnowledgeError):
    """A knowledge document is malformed (front matter, placeholder, department, access)."""


class AssetIntegrityError(KnowledgeError):
    """A model or tokenizer file is missing or does not match its pinned sha256."""


class EmbeddingMismatchError(KnowledgeError):
    """The collection was built with a different embedding function than the one selected."""


class UnknownAgentError(KnowledgeError):
    """Retrieval was asked for on behalf of an agent that policy.yaml does not define."""
