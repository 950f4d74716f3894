"""Loaded before any test module, in any directory under tests/: importing it runs
tests/__init__.py, which makes this process's rustnet the pure Python build (see there)."""

from __future__ import annotations

import pytest
from rustnet import _compiled

if _compiled.compiled:  # rustnet was imported before tests/__init__.py could choose
    raise pytest.UsageError(f"the pytest process must run rustnet as pure Python: {_compiled.state}")
