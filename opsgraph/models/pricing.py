"""Per-model token prices (USD per million tokens) from a data file.

The shipped table (pricing.yaml) covers common OpenAI models and prices the offline
engine at zero; a user file (``pricing_file`` / ``OPSGRAPH_PRICING``) of the same shape
extends or overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opsgraph.settings import SettingsError

DEFAULT_PRICING = Path(__file__).with_name("pricing.yaml")


class PricingError(SettingsError):
    """A pricing file is unreadable or holds a malformed price."""


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


def _price(spec: Any, where: str) -> Price:
    if not isinstance(spec, dict):
        raise PricingError(f"{where} must be a mapping like {{input: 0.15, output: 0.60}}")
    try:
        price = Price(float(spec["input"]), float(spec["output"]))
    except (KeyError, TypeError, ValueError):
        raise PricingError(f"{where} needs numeric 'input' and 'output' prices (USD per million tokens)") from None
    if price.input < 0 or price.output < 0:
        raise PricingError(f"{where} has a negative price")
    return price


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise PricingError(f"cannot read pricing file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PricingError(f"pricing file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise PricingError(f"pricing file {path} must hold 'default' and 'models' mappings")
    return raw


def load_pricing(path: Path | None = None) -> Pricing:
    """Read the price table (the shipped defaults when ``path`` is None)."""
    raw = _read(path or DEFAULT_PRICING)
    name = path or DEFAULT_PRICING
    prices = {model: _price(spec, f"{name}: models.{model}") for model, spec in (raw.get("models") or {}).items()}
    if path is None:
        default = _price(raw.get("default", {"input": 0.0, "output": 0.0}), f"{name}: default")
        return Pricing(prices, default)
    # A user file extends the shipped table rather than replacing it.
    base = load_pricing(None)
    default = _price(raw["default"], f"{name}: default") if "default" in raw else base.default
    return Pricing({**base.prices, **prices}, default)
