"""Exit statuses of the record stages for inputs they cannot read: 1 (a runtime I/O error), one
line naming the file, as rn-capture and rustnet do; 2 stays for usage mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
STAGES = ["rn-dissect", "rn-track", "rn-enrich", "rn-view"]


def _run(prog: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / prog), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("prog", STAGES)
def test_missing_input_file_is_an_io_error(prog: str, tmp_path: Path) -> None:
    missing = tmp_path / "gone.rn"
    p = _run(prog, str(missing))
    assert p.returncode == 1, p.stderr
    assert p.stderr == f"{prog}: {missing}: No such file or directory\n"
    assert p.stdout == ""


@pytest.mark.parametrize("prog", STAGES)
def test_unknown_option_is_a_usage_error(prog: str) -> None:
    p = _run(prog, "--no-such-option")
    assert p.returncode == 2
    assert "No such option" in p.stderr
