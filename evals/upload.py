"""LangSmith clients for eval runs: an offline one that is never contacted, or the real one with a key.

Offline (no ``LANGSMITH_API_KEY``) ``evaluate`` runs with ``upload_results=False`` and a
client that points nowhere and has background tracing off, so nothing leaves the machine.
With a key, each suite becomes a LangSmith dataset ``opsgraph-<suite>`` whose examples
carry deterministic ids (re-running updates them in place), and every eval run uploads
an experiment per suite.
"""

from __future__ import annotations

import uuid
from typing import Any

from opsgraph.evals.dataset import EXAMPLE_NAMESPACE, Case, Suite

# A discard-port address: if anything ever tried to use the offline client it would fail at once.
OFFLINE_API_URL = "http://127.0.0.1:9"


def dataset_name(suite: Suite) -> str:
    """LangSmith dataset name of a suite."""
    return f"opsgraph-{suite.name}"


def make_client(upload: bool) -> Any:
    """The real LangSmith client (key from the environment) or an offline one that is never called."""
    from langsmith import Client

    if upload:
        return Client()
    return Client(api_url=OFFLINE_API_URL, api_key="offline-never-sent", auto_batch_tracing=False)


def local_examples(suite: Suite, cases: list[Case]) -> list[Any]:
    """In-memory LangSmith examples of ``cases`` (no dataset exists anywhere)."""
    from langsmith import schemas

    dataset_id = uuid.uuid5(EXAMPLE_NAMESPACE, f"dataset:{suite.name}")
    return [schemas.Example(id=suite.example_id(c), dataset_id=dataset_id, inputs=c.example_inputs(suite.graph_id),
                            outputs=c.expect, metadata=_metadata(suite, c)) for c in cases]


def sync_examples(client: Any, suite: Suite, cases: list[Case]) -> list[Any]:
    """Create or update the suite's LangSmith dataset so it holds ``cases``; returns those examples."""
    name = dataset_name(suite)
    if client.has_dataset(dataset_name=name):
        dataset = client.read_dataset(dataset_name=name)
    else:
        dataset = client.create_dataset(name, description=suite.description or f"opsgraph eval suite {suite.name}")
    existing = {str(e.id): e for e in client.list_examples(dataset_id=dataset.id)}
    fresh = []
    for case in cases:
        example_id, inputs = suite.example_id(case), case.example_inputs(suite.graph_id)
        old = existing.get(str(example_id))
        if old is None:
            fresh.append({"id": example_id, "inputs": inputs, "outputs": case.expect, "metadata": _metadata(suite, case)})
        elif _differs(old, inputs, case.expect, _metadata(suite, case)):
            client.update_example(example_id, inputs=inputs, outputs=case.expect, metadata=_metadata(suite, case),
                                  dataset_id=dataset.id)
    if fresh:
        client.create_examples(dataset_id=dataset.id, examples=fresh)
    ids = [suite.example_id(c) for c in cases]
    return list(client.list_examples(dataset_id=dataset.id, example_ids=ids))


def _differs(old: Any, inputs: dict[str, Any], outputs: dict[str, Any], metadata: dict[str, Any]) -> bool:
    # The server adds its own metadata keys (splits): compare only the ones opsgraph writes.
    kept = {k: (old.metadata or {}).get(k) for k in metadata}
    return (old.inputs, old.outputs, kept) != (inputs, outputs, metadata)


def _metadata(suite: Suite, case: Case) -> dict[str, Any]:
    return {"case_id": case.id, "suite": suite.name, "tags": list(case.tags), "description": case.description}
