"""rustnet: a terminal network monitor built as a pipeline of Unix commands."""

from rustnet import _compiled

__version__ = "0.1.0"

_compiled.install()  # the mypyc-compiled hot modules, when built from these very sources
