"""rustnet: a terminal network monitor built as a pipeline of Unix commands."""

__version__ = "0.1.0"
