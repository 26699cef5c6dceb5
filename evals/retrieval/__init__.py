"""Retrieval eval for the knowledge layer: recall@5 and MRR per ranking method."""
