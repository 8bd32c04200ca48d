"""conflict-ner: from conflict news articles to a spaCy FACTION/PLACE model."""

from importlib.metadata import version

# pyproject.toml is the one home of the version.
__version__ = version("conflict-ner")
