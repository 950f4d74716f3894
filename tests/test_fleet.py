"""rustnet with several --remote hosts, without a network: what is refused, and hosts that never start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rustnet.app.fleet import node_names

RUSTNET = str(Path(sys.executable).parent / "rustnet")


def rustnet(*args: str, ssh: str = "false") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUSTNET_SSH": ssh}
    return subprocess.run(
        [RUSTNET, *args], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
    )


def test_options_that_take_one_host_are_refused_with_several(tmp_path: Path) -> None:
    two = ["--remote", "root@web1", "--remote", "web2", "--json"]
    for extra in (["--record", str(tmp_path / "r.rn")], ["--json-log", str(tmp_path / "l.jsonl")]):
        out = rustnet(*two, *extra)
        assert out.returncode == 2, out.stderr
        assert "several --remote hosts" in out.stderr and len(out.stderr.splitlines()) == 1
        assert not any(tmp_path.iterdir())  # nothing created, nothing started
    same = rustnet("--remote", "web1", "--remote", "web1", "--json")
    assert same.returncode == 2 and "same host twice" in same.stderr


def test_every_host_failing_at_start_is_one_line_each_and_status_1() -> None:
    # ssh that fails at once (as for an unknown host): no host's stream ever begins.
    out = rustnet("--remote", "root@web1", "--remote", "web2", "--json")
    assert out.returncode == 1, out.stderr
    lines = out.stderr.splitlines()
    assert [ln.split(":")[1].strip() for ln in lines if ln.startswith("rustnet: ")][:2] == [
        "root@web1",
        "web2",
    ]
    assert out.stdout == ""


def test_node_names_leave_out_the_user_unless_that_makes_two_alike() -> None:
    assert node_names(["root@web1", "web2"]) == ["web1", "web2"]
    assert node_names(["root@web1", "admin@web1"]) == ["root@web1", "admin@web1"]
