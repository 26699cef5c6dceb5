"""Connectors to the mock enterprise systems; each one could be swapped for a real client."""

from opsgraph.tools.connectors.base import (
    ApprovalRequired,
    Conflict,
    ConnectorError,
    FaultPlan,
    NotFound,
    TransientError,
    UnknownEntity,
    ValidationFailed,
    WorldError,
)

__all__ = [
    "ApprovalRequired",
    "Conflict",
    "ConnectorError",
    "FaultPlan",
    "NotFound",
    "TransientError",
    "UnknownEntity",
    "ValidationFailed",
    "WorldError",
]
