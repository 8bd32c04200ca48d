"""conflict-ner: from conflict news articles to a spaCy FACTION/PLACE model."""


def __getattr__(name: str) -> str:
    """``__version__``, read when asked for: importlib.metadata is a fifth of the
    command line's start-up, and every command imports this package."""
    if name == "__version__":
        from importlib.metadata import version

        # pyproject.toml is the one home of the version.
        return version("conflict-ner")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
