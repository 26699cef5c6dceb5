"""Register workflow spec files as graph ids, next to the Python workflows.

Specs are read from the folder that ships with opsgraph (``opsgraph/workflows/specs``) and
from the user's folder (``OPSGRAPH_WORKFLOWS`` / ``workflows_dir`` in opsgraph.yaml). A spec
that fails validation is left out, with its problems in the log; ``opsgraph workflow
validate FILE`` prints them.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsgraph.registry import GraphEntry
    from opsgraph.workflows.loader import LoadedSpec

SPECS_DIR = Path(__file__).resolve().parent / "specs"
log = logging.getLogger(__name__)


def python_entries() -> dict[str, GraphEntry]:
    """The workflows built in Python (a spec may borrow their input handling)."""
    from opsgraph.registry import python_graph_entries

    return python_graph_entries()


def spec_files() -> list[Path]:
    """Every spec file to register: the shipped ones, then the user's folder."""
    from opsgraph.settings import load_settings

    folders = [SPECS_DIR]
    user = load_settings().workflows_dir
    if user is not None and Path(user).is_dir():
        folders.append(Path(user))
    return [path for folder in folders for path in sorted(folder.glob("*.yaml"))]


def workflow_entries() -> list[GraphEntry]:
    """One GraphEntry per valid spec file; an id already taken is skipped with a warning."""
    from opsgraph.workflows.loader import WorkflowSpecError

    taken = set(python_entries())
    entries = []
    for path in spec_files():
        try:
            loaded = _loaded(path, path.stat().st_mtime_ns)
        except WorkflowSpecError as exc:
            log.warning("workflow spec %s left out:\n%s", path, exc)
            continue
        if loaded.spec.id in taken:
            log.warning("workflow spec %s left out: graph id %r is already registered", path, loaded.spec.id)
            continue
        taken.add(loaded.spec.id)
        entries.append(entry_for(loaded))
    return entries


@lru_cache(maxsize=64)
def _loaded(path: Path, _mtime: int) -> LoadedSpec:
    """A spec file loaded once per version of the file (the modification time is the cache key)."""
    from opsgraph.workflows.loader import load_spec

    return load_spec(path)


def entry_for(loaded: LoadedSpec) -> GraphEntry:
    """The registry entry of a loaded spec: its compiler as builder, input handling from ``input.like``."""
    from opsgraph.registry import GraphEntry
    from opsgraph.workflows.compiler import compile_spec

    spec = loaded.spec
    if spec.input.like is None:
        from opsgraph.workflows.inputs import IdInput

        reader = IdInput(spec.input)
        return GraphEntry(spec.id, f"{spec.topology.kind} (yaml)", spec.description, lambda: compile_spec(spec),
                          reader.make_input, reader.title, chat_input=reader.chat_input)
    like = python_entries()[spec.input.like]
    return GraphEntry(spec.id, f"{spec.topology.kind} (yaml)", spec.description, lambda: compile_spec(spec),
                      like.make_input, like.title, chat_input=like.chat_input, samples=like.samples)


def eval_datasets() -> dict[str, str]:
    """Workflow id -> the eval dataset it is scored on, for every registered spec that names one."""
    from opsgraph.workflows.loader import WorkflowSpecError

    found = {}
    for path in spec_files():
        try:
            spec = _loaded(path, path.stat().st_mtime_ns).spec
        except WorkflowSpecError:
            continue
        if spec.evals is not None:
            found[spec.id] = spec.evals.dataset
    return found
