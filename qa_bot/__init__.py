"""qa-bot: cited answers over a corpus of news articles."""

__version__ = "0.1.0"
