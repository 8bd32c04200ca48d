"""The doccano bridge: the local server (server), the one API adapter (client), push,
pull, and the pure merge and agreement over annotator votes (merge, agreement, votes).

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
