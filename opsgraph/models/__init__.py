"""Model providers: ``load_chat_model("provider:model")`` for ``openai`` and ``offline``."""

from opsgraph.models.provider import ModelSpecError, load_chat_model, parse_model_spec

__all__ = ["ModelSpecError", "load_chat_model", "parse_model_spec"]
