"""What a normal user is told when capture or a stage's interpreter is out of reach.

Run for real as the user ``nobody`` (with ``runuser``), from venvs it can read
(tests/nobody_install.py), so the kernel itself refuses the capture and the exec.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import nobody_install
from tests.corpus import PCAPS

BASE, WHY_NOT = nobody_install.base_python()
pytestmark = pytest.mark.skipif(BASE is None, reason=WHY_NOT)


@pytest.fixture(scope="module")
def copied_venv() -> Iterator[Path]:
    venv = nobody_install.build(copies=True)
    yield venv
    nobody_install.remove(venv)


@pytest.fixture(scope="module")
def linked_venv() -> Iterator[Path]:
    venv = nobody_install.build(copies=False)
    yield venv
    nobody_install.remove(venv)


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        stdin=subprocess.DEVNULL,
    )


def test_no_permission_advises_an_interpreter_of_rustnets_own(copied_venv: Path, linked_venv: Path) -> None:
    # A venv of symbolic links runs the system's interpreter: setcap must not be advised on that
    # shared file (every Python program on the machine could then capture).
    system_python = os.path.realpath(linked_venv / "bin" / "python3")
    assert not system_python.startswith(str(linked_venv))
    p = as_nobody(str(linked_venv / "bin" / "rn-capture"), "-i", "lo", "--format", "json")
    assert p.returncode == 1, p.stderr
    assert len(p.stderr.splitlines()) == 1, p.stderr
    assert "no permission to capture on lo" in p.stderr
    assert system_python not in p.stderr
    assert "python3 -m venv --copies" in p.stderr and "setcap cap_net_raw,cap_net_admin=eip" in p.stderr
    # A venv with its own interpreter file: that file is the one to give the capabilities.
    own = copied_venv / "bin" / "python3"
    assert os.path.realpath(own) == str(own)
    p = as_nobody(str(copied_venv / "bin" / "rn-capture"), "-i", "lo", "--format", "json")
    assert p.returncode == 1 and len(p.stderr.splitlines()) == 1, p.stderr
    assert f"setcap cap_net_raw,cap_net_admin=eip {own}'" in p.stderr


def test_unreachable_stage_interpreter_is_named(linked_venv: Path) -> None:
    # rn-capture's interpreter sits in a directory only root may enter (as pyenv's under /root).
    private = Path(tempfile.mkdtemp(prefix="rustnet-private-"))
    script = linked_venv / "bin" / "rn-capture"
    original = script.read_text(encoding="utf-8")
    try:
        private.chmod(0o700)
        (private / "python3").symlink_to(linked_venv / "bin" / "python3")
        shebang = f"#!{linked_venv}/bin/python3"
        script.write_text(original.replace(shebang, f"#!{private}/python3", 1), "utf-8")
        pcap = str(PCAPS / "dpkt_http.pcap")
        copy = Path(tempfile.mkdtemp(prefix="rustnet-pcap-"))
        try:
            copy.chmod(0o755)
            (copy / "t.pcap").write_bytes(Path(pcap).read_bytes())
            (copy / "t.pcap").chmod(0o644)
            p = as_nobody(str(linked_venv / "bin" / "rustnet"), "--read", str(copy / "t.pcap"), "--json")
        finally:
            for f in copy.iterdir():
                f.unlink()
            copy.rmdir()
    finally:
        script.write_text(original, encoding="utf-8")
        for f in private.iterdir():
            f.unlink()
        private.rmdir()
    assert p.returncode == 1, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert "Permission denied" in lines[0] and str(script) in lines[0]
    assert f"its interpreter {private}/python3 is out of reach (nobody cannot enter {private})" in lines[0]
