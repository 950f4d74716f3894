"""Every command also runs as ``python -m rustnet_cmds.NAME``: rustnet starts its stages that
way when the scripts are neither beside the interpreter nor on PATH (launch.command)."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ["capture", "dissect", "track", "enrich", "view", "rustnet"]


@pytest.mark.parametrize("name", COMMANDS)
def test_module_runs_as_a_command(name: str) -> None:
    p = subprocess.run(
        [sys.executable, "-m", f"rustnet_cmds.{name}", "--help"], capture_output=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert b"Usage:" in p.stdout
