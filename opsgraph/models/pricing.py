"""Per-model token prices (USD per million tokens) from a data file.

The shipped table (pricing.yaml) covers common OpenAI models; a user file (``pricing_file``
/ ``OPSGRAPH_PRICING``) of the same shape extends or overrides it. An entry may say
``{priced_as: other:model}`` instead of prices: the offline tiers are priced like the hosted
models they stand in for, so cost gates, budgets and routing savings mean something offline,
and every call record says which prices it used. A model with no entry costs the default
(zero) and is reported once per process with a warning; its tokens are still counted.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

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
    label: str = ""  # which model's list prices these are; "unpriced" when none were found

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Cost in USD of one call."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


@dataclass(frozen=True)
class Pricing:
    """Price table keyed by ``provider:model`` spec."""

    prices: dict[str, Price]
    default: Price

    def price(self, model_spec: str) -> Price:
        """Price of ``model_spec``; the default entry (and a one-time warning) for unknown models."""
        if model_spec in self.prices:
            return self.prices[model_spec]
        warn_unpriced(model_spec, self.default)
        return Price(self.default.input, self.default.output, "unpriced")


_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()
log = logging.getLogger("opsgraph.pricing")


def warn_unpriced(model_spec: str, default: Price) -> bool:
    """Log once per process and model that ``model_spec`` has no price; True when this call warned."""
    with _WARNED_LOCK:
        if model_spec in _WARNED:
            return False
        _WARNED.add(model_spec)
    log.warning("model %s has no price entry: its calls are costed at the default ($%g / $%g per million "
                "tokens in / out) and its tokens are still counted; add it to a pricing file "
                "(pricing_file / OPSGRAPH_PRICING)", model_spec, default.input, default.output)
    return True


def _price(spec: Any, where: str, label: str = "") -> Price:
    if not isinstance(spec, dict):
        raise PricingError(f"{where} must be a mapping like {{input: 0.15, output: 0.60}}")
    try:
        price = Price(float(spec["input"]), float(spec["output"]), label)
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
    models = raw.get("models") or {}
    if not isinstance(models, dict):
        raise PricingError(f"{name}: models must be a mapping of model spec -> prices")
    if path is None:
        default = _price(raw.get("default", {"input": 0.0, "output": 0.0}), f"{name}: default", "default")
        return Pricing(_resolve(models, {}, name), default)
    # A user file extends the shipped table rather than replacing it.
    base = load_pricing(None)
    default = _price(raw["default"], f"{name}: default", "default") if "default" in raw else base.default
    return Pricing({**base.prices, **_resolve(models, base.prices, name)}, default)


def _resolve(models: dict[str, Any], known: dict[str, Price], name: Any) -> dict[str, Price]:
    """Prices of ``models``; an entry ``{priced_as: spec}`` takes the prices of that (direct) entry."""
    direct = {m: _price(s, f"{name}: models.{m}", m) for m, s in models.items()
              if not (isinstance(s, dict) and "priced_as" in s)}
    table = {**known, **direct}
    for model, spec in models.items():
        if model in direct:
            continue
        target = spec["priced_as"]
        if target not in table:
            raise PricingError(f"{name}: models.{model} is priced_as {target!r}, which has no prices of its own")
        direct[model] = Price(table[target].input, table[target].output, f"priced as {target}")
    return direct


def pricing_note(calls: Iterable[Mapping[str, Any]]) -> str:
    """How the calls' costs were priced when not at their own model's list prices, e.g.
    ``offline:small priced as openai:gpt-4o-mini``; empty when every model had its own entry."""
    notes = {}
    for call in calls:
        label = str(call.get("priced_as") or "")
        if label == "unpriced" or label.startswith("priced as"):
            notes[str(call.get("model"))] = label.replace("unpriced", "unpriced (tokens only)")
    return ", ".join(f"{model} {label}" for model, label in sorted(notes.items()))
