"""Masking personal data wherever it would leave the enterprise systems: models, state, audit, traces.

``PiiMasker.mask`` replaces every value :class:`PiiDetector` finds with a typed placeholder
(``<EMAIL_1>``, ``<PHONE_2>``, ``<CARD_1>``, ``<NAME_1>``, ``<ADDRESS_1>``), the same one for the
same value throughout a thread (the :class:`PiiVault` remembers). ``unmask`` is the way back,
for the tool boundary (a tool acts on the real value a placeholder stands for) and for the
channel that delivers a reply to the customer. Where each is applied: docs/privacy.md.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from langchain_core.messages import AIMessage, BaseMessage

from opsgraph.governance.pii import CARD, EMAIL, NAME, PHONE, PII_TYPES, PLACEHOLDER, PiiDetector
from opsgraph.governance.pii_vault import PiiVault

_CACHE_SIZE = 4096
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PrivacyPolicy:
    """``privacy`` in policy.yaml: whether personal data is masked, and which types."""

    mask_pii: bool = True
    types: tuple[str, ...] = PII_TYPES

    @classmethod
    def from_policy(cls, section: Mapping[str, Any] | None) -> "PrivacyPolicy":
        """The privacy settings of a (schema-validated) policy; masking is on when the section is absent."""
        section = section or {}
        return cls(bool(section.get("mask_pii", True)), tuple(section.get("types") or PII_TYPES))


class PiiMasker:
    """Masks and unmasks personal data per thread; one per run context, shared by every node."""

    def __init__(self, detector: PiiDetector, vault: PiiVault):
        self.detector, self.vault = detector, vault
        self._cache: OrderedDict[tuple[str, int, str], str] = OrderedDict()
        self._names: dict[str, list[str]] = {}  # thread -> names learned in it (from the vault)
        self._lock = threading.Lock()

    def mask_text(self, thread_id: str, text: str) -> str:
        """``text`` with every piece of personal data replaced by its thread's placeholder.

        A name found once in a thread (introduced by "my name is", say) is masked wherever it
        appears later in that thread, cue or not: the thread's names are part of the cache key.
        """
        if not text.strip():
            return text
        learned = self.vault.count(thread_id, NAME) if NAME in self.detector.types else 0
        key = (thread_id, learned, text)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        masked = self._replace(thread_id, text, learned)
        with self._lock:
            self._cache[key] = masked
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return masked

    def mask(self, thread_id: str, value: Any) -> Any:
        """``value`` with personal data masked in every string inside it (dicts, lists, messages)."""
        return _walk(value, lambda text: self.mask_text(thread_id, text), self._message_masker(thread_id))

    def mask_messages(self, thread_id: str, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """Copies of ``messages`` as a model may see them: content, tool-call arguments and extras masked."""
        return [self.mask(thread_id, m) for m in messages]

    def unmask_text(self, thread_id: str, text: str) -> str:
        """``text`` with each placeholder of ``thread_id`` replaced by its value (unknown ones stay)."""
        if "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self.vault.reveal(thread_id, m.group()) or m.group(), text)

    def unmask(self, thread_id: str, value: Any) -> Any:
        """``value`` with placeholders resolved in every string inside it."""
        return _walk(value, lambda text: self.unmask_text(thread_id, text), None)

    def _replace(self, thread_id: str, text: str, learned: int) -> str:
        spans = self.detector.find(text, names=self._thread_names(thread_id, learned))
        if not spans:
            return text
        parts, last = [], 0
        for span in spans:
            parts += [text[last:span.start], self.vault.placeholder(thread_id, span.kind, normalize(span.kind, span.text),
                                                                     span.text)]
            last = span.end
        return "".join([*parts, text[last:]])

    def _thread_names(self, thread_id: str, learned: int) -> list[str]:
        """Names already masked in this thread, re-read from the vault when another call learned one."""
        with self._lock:
            names = self._names.get(thread_id)
        if names is None or len(names) != learned:
            names = self.vault.values(thread_id, NAME) if learned else []
            with self._lock:
                self._names[thread_id] = names
        return names

    def _message_masker(self, thread_id: str) -> Callable[[BaseMessage], BaseMessage]:
        def mask_message(message: BaseMessage) -> BaseMessage:
            update: dict[str, Any] = {"content": self.mask(thread_id, message.content)}
            if isinstance(message, AIMessage) and message.tool_calls:
                update["tool_calls"] = [{**c, "args": self.mask(thread_id, c["args"])} for c in message.tool_calls]
            if message.additional_kwargs:
                # A provider's own copy of the tool calls (JSON argument strings) is masked as text.
                update["additional_kwargs"] = self.mask(thread_id, message.additional_kwargs)
            return message.model_copy(update=update)

        return mask_message


def normalize(kind: str, text: str) -> str:
    """The form two mentions of one value share: case-free e-mails and names, card digits, E.164 phones."""
    if kind == CARD:
        return re.sub(r"\D", "", text)
    if kind == PHONE:
        return _phone_key(text)
    if kind in (EMAIL, NAME):
        return _SPACES.sub(" ", text.strip()).casefold()
    return _SPACES.sub(" ", text.strip().rstrip(".,")).casefold()


def _phone_key(text: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None if text.strip().startswith("+") else "US")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return re.sub(r"[^\d+]", "", text)


def _walk(value: Any, on_text: Callable[[str], str], on_message: Callable[[BaseMessage], BaseMessage] | None) -> Any:
    """Apply ``on_text`` to every string inside ``value``; messages go to ``on_message`` (or are left alone)."""
    if isinstance(value, str):
        return on_text(value)
    if isinstance(value, BaseMessage):
        return on_message(value) if on_message else value
    if isinstance(value, Mapping):
        return {k: _walk(v, on_text, on_message) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        walked = [_walk(v, on_text, on_message) for v in value]
        return walked if isinstance(value, list) else tuple(walked)
    return value


def build_masker(policy: PrivacyPolicy, vault: PiiVault, known_names: Callable[[], Iterable[str]]) -> PiiMasker | None:
    """The masker a run context carries, or None when policy.yaml turns masking off."""
    if not policy.mask_pii:
        return None
    return PiiMasker(PiiDetector(policy.types, known_names=known_names), vault)
