"""Per-model token prices (USD per million tokens) from a data file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_PRICING = Path(__file__).with_name("pricing.yaml")


@dataclass(frozen=True)
class Price:
    """Input and output price in USD per million tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Cost in USD of one call."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


@dataclass(frozen=True)
class Pricing:
    """Price table keyed by ``provider:model`` spec."""

    prices: dict[str, Price]
    default: Price

    def price(self, model_spec: str) -> Price:
        """Price of ``model_spec``; the default entry for unknown models."""
        return self.prices.get(model_spec, self.default)


def load_pricing(path: Path | None = None) -> Pricing:
    """Read the price table (the shipped defaults when ``path`` is None)."""
    raw = yaml.safe_load((path or DEFAULT_PRICING).read_text()) or {}
    default = Price(**raw.get("default", {"input": 0.0, "output": 0.0}))
    prices = {name: Price(**spec) for name, spec in (raw.get("models") or {}).items()}
    if path is not None:
        # A user file extends the shipped table rather than replacing it.
        base = load_pricing(None)
        prices = {**base.prices, **prices}
    return Pricing(prices, default)
