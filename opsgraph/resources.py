"""Where the files that ship with opsgraph live, in a source checkout and in an installed wheel.

The top-level folders (prompts, knowledge corpus, policy defaults) install as data packages
under the ``opsgraph.`` namespace; their location is asked of the import system, so the same
code finds them in an editable install, a wheel in site-packages, or a zip-free build tree.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=16)
def package_dir(package: str) -> Path:
    """Directory of the installed package ``package`` (for example ``opsgraph.corpus``)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"opsgraph is installed without its {package} data; reinstall opsgraph")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def default_policy_path() -> Path:
    """The policy.yaml that ships with opsgraph: ``opsgraph/defaults/`` in a wheel, the checkout's root
    in a source (editable) install."""
    here = Path(__file__).resolve().parent
    installed = here / "defaults" / "policy.yaml"
    return installed if installed.is_file() else here.parent / "policy.yaml"


def corpus_dir() -> Path:
    """The policy/SOP corpus that ships with opsgraph."""
    return package_dir("opsgraph.corpus")


def prompts_dir() -> Path:
    """The prompt templates (``*.md``) that ship with opsgraph."""
    return package_dir("opsgraph.prompt_files")
