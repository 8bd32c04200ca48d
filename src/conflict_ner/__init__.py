"""conflict-ner: from conflict news articles to a spaCy FACTION/PLACE model."""

__version__ = "0.1.0"
