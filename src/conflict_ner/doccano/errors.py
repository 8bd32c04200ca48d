"""Errors of the doccano bridge, each with a message fit to show a user."""

from __future__ import annotations


class DoccanoError(RuntimeError):
    """Something went wrong talking to or running doccano."""


class DoccanoUnreachable(DoccanoError):
    """Nothing answers at the doccano URL (refused, reset, timed out, or 5xx after retries)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"doccano at {url} is unreachable: {reason}")


class DoccanoNotFound(DoccanoError):
    """What answers at the URL is not doccano's API (a 404, or not doccano's answer): a
    wrong URL."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"{url} is not doccano's API ({reason}): check the doccano URL; it is the address "
            "doccano answers at, such as http://127.0.0.1:8000, with no path"
        )


class DoccanoAuthError(DoccanoError):
    """doccano refused the login (wrong username or password) or the user lacks a right."""


class DoccanoImportError(DoccanoError):
    """doccano's own import task reported errors; carries doccano's messages."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("doccano rejected part of the import:\n" + "\n".join(messages))


class ConfigError(DoccanoError):
    """The doccano connection is not configured, or configured unsafely."""
