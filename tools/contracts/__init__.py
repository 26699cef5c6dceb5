"""Sample supplier agreements (plain text) served by :class:`tools.connectors.contracts.ContractRepository`."""
