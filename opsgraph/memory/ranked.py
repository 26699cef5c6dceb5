"""Semantic search over a store that has no vector index of its own, ranked in this process.

LangGraph's ``PostgresStore`` searches by meaning only with the pgvector extension, which a
shared database may not have (installing it needs the server's administrator). Memory does not
need it: each memory's vector is computed once, when it is written, and kept in the stored
value; a search by meaning reads the namespace's items (filtered in the database, as without a
query) and ranks them by cosine similarity here. Namespaces are per subject (one supplier, one
SKU), so a search reads tens of items, not the whole store.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

from langgraph.store.base import BaseStore, GetOp, Item, Op, PutOp, Result, SearchItem, SearchOp

VECTOR_FIELD = "_vector"
# Items read per search by meaning before ranking; a namespace larger than this is ranked on its
# most recently updated items.
MAX_CANDIDATES = 2000


class RankedSearchStore(BaseStore):
    """A ``BaseStore`` over ``inner`` that adds search by meaning with ``embed`` (see the module doc).

    Writes store the vector of ``fields`` inside the value; reads never return it.
    """

    def __init__(self, inner: BaseStore, embed: Callable[[Sequence[str]], Sequence[Sequence[float]]],
                 fields: Sequence[str] = ("text",)) -> None:
        self.inner, self.embed, self.fields = inner, embed, list(fields)

    @property
    def conn(self) -> Any:
        """The inner store's connection (closed by ``close_store``)."""
        return getattr(self.inner, "conn", None)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` on the inner store, vectors added to puts and searches by meaning ranked here."""
        ops = list(ops)
        inner_ops = [self._inner_op(op) for op in ops]
        results = self.inner.batch(inner_ops)
        return [self._result(op, result) for op, result in zip(ops, results)]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """As :meth:`batch`; the inner store is synchronous, so this runs it in place."""
        return self.batch(ops)

    def _inner_op(self, op: Op) -> Op:
        if isinstance(op, PutOp) and op.value is not None:
            return PutOp(op.namespace, op.key, self._with_vector(op.value), index=False, ttl=op.ttl)
        if isinstance(op, SearchOp) and op.query:
            return SearchOp(op.namespace_prefix, op.filter, MAX_CANDIDATES, 0, None, op.refresh_ttl)
        return op

    def _with_vector(self, value: dict[str, Any]) -> dict[str, Any]:
        text = _indexed_text(value, self.fields)
        clean = {k: v for k, v in value.items() if k != VECTOR_FIELD}
        return {**clean, VECTOR_FIELD: [float(x) for x in self.embed([text])[0]]} if text else clean

    def _result(self, op: Op, result: Result) -> Result:
        if isinstance(op, GetOp):
            return _without_vector(result) if result is not None else None
        if isinstance(op, SearchOp):
            items = list(result or [])
            if op.query:
                return self._ranked(op, items)
            return [_search_item(item, None) for item in items]
        return result

    def _ranked(self, op: SearchOp, items: list[SearchItem]) -> list[SearchItem]:
        query = self.embed([op.query])[0]
        missing = [i for i, item in enumerate(items) if not isinstance(item.value.get(VECTOR_FIELD), list)]
        # Items written before this store wrapped the inner one have no stored vector: embed them now.
        fresh = self.embed([_indexed_text(items[i].value, self.fields) for i in missing]) if missing else []
        vectors = {i: v for i, v in zip(missing, fresh)}
        scored = [(_cosine(query, vectors.get(i) or item.value.get(VECTOR_FIELD) or []), item)
                  for i, item in enumerate(items)]
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [_search_item(item, score) for score, item in scored[op.offset: op.offset + op.limit]]


def _indexed_text(value: dict[str, Any], fields: Sequence[str]) -> str:
    return " ".join(str(value[f]) for f in fields if value.get(f))


def _without_vector(item: Item) -> Item:
    value = {k: v for k, v in item.value.items() if k != VECTOR_FIELD}
    return Item(value=value, key=item.key, namespace=item.namespace, created_at=item.created_at,
                updated_at=item.updated_at)


def _search_item(item: Item, score: float | None) -> SearchItem:
    value = {k: v for k, v in item.value.items() if k != VECTOR_FIELD}
    return SearchItem(namespace=item.namespace, key=item.key, value=value, created_at=item.created_at,
                      updated_at=item.updated_at, score=score)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if not a or not b or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
