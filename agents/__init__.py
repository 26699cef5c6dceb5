"""Specialist agents, one module each."""

from opsgraph.agents.base import AgentSpec

__all__ = ["AgentSpec"]
