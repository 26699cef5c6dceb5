"""opsgraph: multi-agent orchestration for enterprise operations, built on LangGraph."""

__version__ = "0.1.0"
