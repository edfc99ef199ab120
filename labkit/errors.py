"""Errors a learner sees.

A bad manifest must say *where* it is wrong (a field path as ``kubectl`` prints it),
*what* value was there, and *why* it is refused, so ``ManifestError`` carries all three.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ManifestError"]


class ManifestError(ValueError):
    """A manifest that the API server would refuse.

    Attributes
    ----------
    path:
        Field path inside the object, e.g. ``spec.containers[0].resources.requests.cpu``
        (empty string when the whole document is at fault).
    value:
        The offending value as it was written.
    reason:
        One sentence saying what is wrong and what would be valid.
    document:
        Optional ``"Kind/name"`` (or document index) so multi-document input can be traced.
    """

    def __init__(self, path: str, value: Any, reason: str, document: str | None = None) -> None:
        self.path = path
        self.value = value
        self.reason = reason
        self.document = document
        where = f"{document}: " if document else ""
        field = f"{path}: " if path else ""
        shown = _short(value)
        super().__init__(f"{where}{field}{reason} (got {shown})")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
