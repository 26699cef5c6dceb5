"""Specialist agents, one module each."""

from agents.base import AgentSpec

__all__ = ["AgentSpec"]
