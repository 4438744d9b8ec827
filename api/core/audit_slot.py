"""What one request leaves for the audit middleware (api.core.audit): who called, why it
was refused, and the events to write once the answer is known.

A module of its own, with no imports from the API, so the error handlers and the
dependencies can fill it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

_KEY = "edgewright.audit"


@dataclass(frozen=True, kw_only=True)
class DeferredEvent:
    event: str  # a store.audit.AuditEvent value
    outcome: str
    actor: str | None
    target: str | None
    details: Mapping[str, Any]
    dedupe: str | None = None


@dataclass
class AuditSlot:
    actor: str | None = None  # the authenticated caller, once known
    denial: str | None = None  # the message of a 403 answer
    deferred: list[DeferredEvent] = field(default_factory=list)


def install_slot(scope: MutableMapping[str, Any]) -> AuditSlot:
    slot = AuditSlot()
    scope[_KEY] = slot
    return slot


def audit_slot(scope: Mapping[str, Any]) -> AuditSlot | None:
    """The request's slot; None outside the audit middleware (bare test apps)."""
    slot = scope.get(_KEY)
    return slot if isinstance(slot, AuditSlot) else None
