"""opsgraph: multi-agent orchestration for enterprise operations, built on LangGraph."""

import sys
from pathlib import Path

__version__ = "0.1.0"


def _installed_copies(here: Path) -> list[str]:
    """Other importable ``opsgraph`` packages on ``sys.path`` (e.g. an editable install's link tree).

    Run from the repository root, Python finds the checkout's ``opsgraph/`` folder first, which
    holds only the core package: ``opsgraph.graphs`` and the other subpackages built from the
    top-level folders exist only in the installed copy, so submodules are looked up there too.
    """
    found = []
    for entry in sys.path:
        candidate = Path(entry or ".").resolve() / "opsgraph"
        if candidate != here and (candidate / "__init__.py").is_file() and str(candidate) not in found:
            found.append(str(candidate))
    return found


__path__.extend(_installed_copies(Path(__file__).parent.resolve()))
