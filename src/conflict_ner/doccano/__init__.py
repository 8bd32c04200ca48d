"""The doccano bridge: a local server's lifecycle, one API adapter, push/pull logic.

Only this package knows doccano's JSON and REST API; everything else sees
Prodigy tasks (``conflict_ner.tasks``).
"""

from __future__ import annotations

from conflict_ner.doccano.errors import (
    DoccanoAuthError,
    DoccanoError,
    DoccanoImportError,
    DoccanoUnreachable,
)

__all__ = ["DoccanoAuthError", "DoccanoError", "DoccanoImportError", "DoccanoUnreachable"]
