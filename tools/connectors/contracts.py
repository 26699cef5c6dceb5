"""Contract repository: supplier agreements as plain-text documents (a read-only document store).

A real contract lifecycle management system (or a SharePoint folder) can replace it behind the
same two operations::

    repo = ContractRepository()                     # the sample agreements shipped with opsgraph
    repo.read_contract("CTR-1001")["text"]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from opsgraph.tools.connectors.base import NotFound, ValidationFailed

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "contracts"
CONTRACT_ID = re.compile(r"^CTR-\d{4}$")
MAX_CONTRACT_CHARS = 60_000
_HEADER = re.compile(r"^(Contract ID|Supplier ID|Supplier|Buyer):\s*(.+?)\s*$", re.MULTILINE)


class ContractRepository:
    """Contracts stored as ``<contract_id>.txt`` files in one directory."""

    system = "contracts"

    def __init__(self, directory: Path | str = SAMPLE_DIR, max_chars: int = MAX_CONTRACT_CHARS) -> None:
        self.directory = Path(directory)
        self.max_chars = max_chars

    def _path(self, contract_id: str) -> Path:
        cid = str(contract_id or "").strip().upper()
        if not CONTRACT_ID.match(cid):
            raise ValidationFailed(f"malformed contract id {contract_id!r}; contract ids look like CTR-1001")
        path = self.directory / f"{cid}.txt"
        if not path.is_file():
            raise NotFound(f"unknown contract {cid!r}; known contracts: {', '.join(self.ids()) or 'none'}")
        return path

    def ids(self) -> list[str]:
        """Ids of every stored contract, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("CTR-*.txt") if CONTRACT_ID.match(p.stem))

    def read_contract(self, contract_id: str) -> dict[str, Any]:
        """The full text of one contract with the header facts (id, supplier, title)."""
        path = self._path(contract_id)
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) > self.max_chars:
            raise ValidationFailed(f"contract {path.stem} has {len(text)} characters; the limit is {self.max_chars}")
        header = {m.group(1).lower().replace(" ", "_"): m.group(2) for m in _HEADER.finditer(text[:2000])}
        title = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return {"contract_id": path.stem, "title": title, "supplier_id": header.get("supplier_id"),
                "supplier_name": header.get("supplier"), "chars": len(text), "text": text}

    def list_contracts(self) -> dict[str, Any]:
        """Every stored contract with its title and supplier (no text)."""
        items = []
        for cid in self.ids():
            doc = self.read_contract(cid)
            items.append({k: doc[k] for k in ("contract_id", "title", "supplier_id", "supplier_name")})
        return {"contracts": items, "count": len(items)}
