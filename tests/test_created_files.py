"""Files we create for the user (-w, --write-pcap, --record, logs/) are 0600 and never follow links.

Every case runs the real commands on real files as the user running the tests (root in
CI: the victims below are root-owned files, the links "planted" by nobody). The attacks
are the classic ones against a privileged writer: a symlink (or a dangling one) at the
output path, a hard link to someone else's file, a 0644 file someone already holds open,
and a log directory that is a link or belongs to another user. Also: a stage started with
``python -m`` does not import a module planted in the working directory.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
from rustnet.app.launch import command
from rustnet.app.logsetup import create_log_file, log_file_name

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
PCAP = str(PCAPS / "zeek_http_get.pcap")
ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534
SECRET = b"root:secret-that-must-stay\n"
PCAP_MAGIC = b"\xd4\xc3\xb2\xa1"


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)


def capture_w(out: Path) -> list[str]:
    return [str(BIN / "rn-capture"), "-r", PCAP, "-w", str(out), "--format", "json"]


def rustnet_write_pcap(out: Path) -> list[str]:
    return [str(BIN / "rustnet"), "--read", PCAP, "--json", "--write-pcap", str(out)]


def rustnet_record(out: Path) -> list[str]:
    return [str(BIN / "rustnet"), "--read", PCAP, "--json", "--record", str(out)]


WRITERS: dict[str, Callable[[Path], list[str]]] = {
    "rn-capture -w": capture_w,
    "rustnet --write-pcap": rustnet_write_pcap,
    "rustnet --record": rustnet_record,
}


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def victim(directory: Path) -> Path:
    """A file the attacker wants overwritten (root-owned when we are root), 0644."""
    f = directory / "victim"
    f.write_bytes(SECRET)
    f.chmod(0o644)
    return f


def plant_symlink(target: Path, at: Path) -> None:
    os.symlink(target, at)
    if os.geteuid() == 0:
        os.lchown(at, NOBODY, NOBODY)  # planted by an unprivileged user


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("dangling", [False, True], ids=["symlink", "dangling-symlink"])
def test_symlink_at_the_output_is_refused(tmp_path: Path, writer: str, dangling: bool) -> None:
    target = tmp_path / "not-yet" if dangling else victim(tmp_path)
    out = tmp_path / "out"
    plant_symlink(target, out)
    p = run(WRITERS[writer](out))
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert str(out) in line and "symbolic link" in line, line
    if dangling:
        assert not target.exists()  # not created through the link
    else:
        assert target.read_bytes() == SECRET and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert out.is_symlink()


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_hard_link_to_another_file_is_replaced_not_truncated(tmp_path: Path, writer: str) -> None:
    target = victim(tmp_path)
    out = tmp_path / "out"
    os.link(target, out)
    p = run(WRITERS[writer](out))
    assert p.returncode == 0, p.stderr
    assert target.read_bytes() == SECRET and target.stat().st_nlink == 1
    st = out.stat()
    assert st.st_ino != target.stat().st_ino and st.st_size > 0
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert sorted(tmp_path.iterdir()) == sorted([out, target])  # no temporary left


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_outputs_are_0600_new_or_over_an_old_0644_file(tmp_path: Path, writer: str) -> None:
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    p = run(WRITERS[writer](fresh))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600 and fresh.stat().st_size > 0
    old.write_bytes(b"old contents\n")
    old.chmod(0o644)
    with open(old, "rb") as reader:  # someone who could read the old 0644 file holds it open
        p = run(WRITERS[writer](old))
        assert p.returncode == 0, p.stderr
        assert reader.read() == b"old contents\n"  # and sees none of the new data
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    if writer == "rustnet --record":  # batching varies: not byte for byte the same
        assert b"\xa1t\xa3hdr" in old.read_bytes()[:16]  # a record stream from its start
    else:  # overwritten: the same output as a new file
        assert old.read_bytes() == fresh.read_bytes() and old.read_bytes()[:4] == PCAP_MAGIC
    assert sorted(f.name for f in tmp_path.iterdir()) == ["fresh", "old"]  # no temporary left


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's FIFO needs root")
def test_another_users_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    os.chown(fifo, NOBODY, NOBODY)  # planted: its reader would get the payloads
    for argv in (capture_w(fifo), rustnet_record(fifo)):
        p = run(argv)
        assert p.returncode == 1
        assert "not a regular file" in one_line(p.stderr)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_own_fifo_and_shell_substitution_are_written_to(tmp_path: Path, writer: str) -> None:
    """Streaming output on (mkfifo, >(...)) works as with tcpdump -w: nothing created there."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    got = tmp_path / "got"
    reader = subprocess.Popen(["sh", "-c", f"cat {fifo} > {got}"])
    try:
        p = run(WRITERS[writer](fifo))
    finally:
        reader.wait(timeout=30)
    assert p.returncode == 0, p.stderr
    assert got.stat().st_size > 0 and stat.S_ISFIFO(fifo.lstat().st_mode)
    # bash's >(...) hands the command a /dev/fd/N name: a link by nature, and allowed where the
    # command writes the file itself; rustnet --write-pcap leaves it to rn-capture, a process
    # without that descriptor, so it says so instead of writing to whatever has that number there.
    sub = tmp_path / "sub"
    argv = " ".join(WRITERS[writer](Path("OUT"))).replace("OUT", f">(cat > {sub})")
    p = subprocess.run(
        ["bash", "-c", f"{argv}; status=$?; wait; exit $status"], capture_output=True, text=True, timeout=60
    )
    if writer == "rustnet --write-pcap":
        assert p.returncode == 2 and "has no such descriptor" in one_line(p.stderr)
        return
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (sub.exists() and sub.stat().st_size > 0):
        time.sleep(0.05)
    assert sub.stat().st_size > 0


@pytest.mark.parametrize("writer", ["rn-capture -w", "rustnet --record"])
def test_a_descriptor_name_writes_where_the_shell_opened_it(tmp_path: Path, writer: str) -> None:
    """``-w /dev/fd/3 3>>f`` appends to f, as the shell opened it, instead of writing over its
    start (opening /dev/fd/3 again makes a new open file at offset 0, without O_APPEND)."""
    kept = b"kept: what was there before\n"
    out = tmp_path / "out"
    out.write_bytes(kept)
    argv = " ".join(WRITERS[writer](Path("OUT"))).replace("OUT", "/dev/fd/3")
    p = subprocess.run(["bash", "-c", f"{argv} 3>>{out}"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    data = out.read_bytes()
    assert data.startswith(kept) and len(data) > len(kept) + 100
    written = data[len(kept) :]
    if writer == "rn-capture -w":
        assert written.startswith(PCAP_MAGIC), written[:16]
    else:  # a record stream: its first frame begins with the header
        first = next(iter(msgpack.Unpacker(io.BytesIO(written), raw=False)))
        assert first[0]["t"] == "hdr", first[0]


def test_a_descriptor_name_no_descriptor_can_have_is_a_one_line_error(tmp_path: Path) -> None:
    for name in ("/dev/fd/99999999999999999999", "/dev/fd/77"):
        p = run(capture_w(Path(name)))
        assert p.returncode == 1 and "cannot write" in one_line(p.stderr), p.stderr


# --- the session log directory ----------------------------------------------------------------
def rustnet_with_log(cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "rustnet"), "--read", PCAP, "--json", "-l", "info"], cwd=cwd)


def test_log_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    plant_symlink(elsewhere, work / "logs")
    p = rustnet_with_log(work)
    assert p.returncode == 1
    assert "logs is a symbolic link" in one_line(p.stderr)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory to another user")
def test_log_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o777)
    os.chown(logs, NOBODY, NOBODY)
    p = rustnet_with_log(tmp_path)
    assert p.returncode == 1
    assert "logs is owned by uid 65534" in one_line(p.stderr)
    assert list(logs.iterdir()) == []


def test_log_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("x")
    p = rustnet_with_log(tmp_path)
    assert p.returncode == 1
    assert "logs is not a directory" in one_line(p.stderr)


def test_own_log_directory_is_narrowed_to_0700(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o755)
    p = rustnet_with_log(tmp_path)
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    (log,) = logs.iterdir()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_log_file_is_always_new(tmp_path: Path) -> None:
    """A file already at this second's name (here a hard link to a victim) is never written."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    target = victim(tmp_path)
    now = time.time()
    taken = {log_file_name(now + d) for d in (0, 1)}
    for name in taken:
        os.link(target, logs / name)
    path, fd = create_log_file(logs)
    try:
        os.write(fd, b"new run\n")
    finally:
        os.close(fd)
    assert path.name not in taken and path.read_bytes() == b"new run\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert target.read_bytes() == SECRET


def test_clear_old_logs_does_not_follow_a_linked_log_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    keep = elsewhere / "rustnet_2020-01-01_00-00-00.log"
    keep.write_text("not ours to delete")
    plant_symlink(elsewhere, tmp_path / "logs")
    script = str(ROOT / "scripts" / "clear_old_logs.sh")
    for arg in ("logs", "logs/", "logs//"):
        p = subprocess.run([script, "0", arg], cwd=tmp_path, capture_output=True, text=True)
        assert p.returncode == 1 and "symbolic link" in one_line(p.stderr), (arg, p)
        assert keep.exists()


# --- the stages' command lines ------------------------------------------------------------------
def test_python_m_fallback_ignores_modules_planted_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No script beside the interpreter nor on PATH: stages start as ``python -m``."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    argv = command("rn-capture", scripts_dir=tmp_path / "empty")
    assert argv[0] == sys.executable and "rustnet_cmds.capture" in argv
    planted = tmp_path / "cwd"
    marker = tmp_path / "planted-code-ran"
    for package in ("rustnet_cmds", "rustnet"):
        (planted / package).mkdir(parents=True)
        for module in ("__init__.py", "capture.py"):
            (planted / package / module).write_text(f"open({str(marker)!r}, 'w').close()\n")
    p = run([*argv, "--version"], cwd=planted)
    assert not marker.exists()
    assert p.returncode == 0 and p.stdout.startswith("rn-capture "), p
