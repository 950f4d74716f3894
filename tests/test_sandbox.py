"""The stages' Landlock sandbox, proved by real attempts from inside a restricted process.

tests/sandbox_probe.py applies a stage's sandbox with the function the stage itself calls
(rustnet.sandbox.apply) and then tries to read, list, write, connect, bind and exec; the
kernel's answers are the truth here. The stages themselves are run on corpus captures with the
sandbox on and off: their records must not change. RUSTNET_TEST_LANDLOCK_ABI pretends the
kernel offers less (a test-only switch) for --sandbox-strict and the degraded states.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rustnet import landlock
from rustnet.stream import RecordReader

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
PROBE = Path(__file__).resolve().parent / "sandbox_probe.py"
KERNEL_ABI = landlock.kernel_abi()
needs_landlock = pytest.mark.skipif(KERNEL_ABI < 6, reason=f"kernel Landlock ABI {KERNEL_ABI} < 6")


def rn(name: str) -> str:
    return shutil.which(name, path=str(BIN)) or name


def probe(
    stage: str, mode: str, *attempts: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str | None]]:
    out = subprocess.run(
        [sys.executable, str(PROBE), stage, mode, *attempts],
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=True,
    ).stdout.decode()
    lines = [json.loads(line) for line in out.splitlines()]
    return lines[0], {line["attempt"]: line["errno"] for line in lines[1:]}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("not for a parsing stage\n")
    return path


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on loopback that accepts: a refused connect is the sandbox, not the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.fixture
def abstract_listener() -> Iterator[str]:
    """An abstract unix socket listening here, outside any sandbox."""
    name = f"rustnet-sandbox-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind("\0" + name)
        s.listen(8)
        yield name


@needs_landlock
@pytest.mark.parametrize("stage", ["rn-dissect", "rn-track", "rn-capture", "rn-view"])
def test_parsing_stage_cannot_read_write_connect_bind_or_exec(
    stage: str, secret: Path, tmp_path: Path, listener: int, abstract_listener: str
) -> None:
    attempts = (
        f"signal:{os.getpid()}",
        f"abstract:{abstract_listener}",
        f"read:{secret}",
        f"list:{tmp_path}",
        f"write:{tmp_path / 'dropped'}",
        f"connect:{listener}",
        "bind:0",
        "exec:/bin/true",
        "read:/etc/passwd",
    )
    status, got = probe(stage, "best-effort", *attempts)
    assert status["state"] == "Fully enforced" and status["abi"] == KERNEL_ABI
    assert {"FS restricted", "Net blocked", "IPC scoped", "No new privs"} <= set(status["features"])
    scoped = {f"signal:{os.getpid()}": "EPERM", f"abstract:{abstract_listener}": "EPERM"}
    assert got == {**dict.fromkeys(attempts, "EACCES"), **scoped}
    assert not (tmp_path / "dropped").exists()
    # The same attempts without the sandbox succeed: it is the sandbox that refused them.
    _, free = probe(stage, "off", *attempts)
    assert free == dict.fromkeys(attempts)


@needs_landlock
def test_capture_keeps_the_interface_counters_and_nothing_else(secret: Path) -> None:
    counter = "/sys/class/net/lo/statistics/rx_bytes"
    _, got = probe("rn-capture", "best-effort", f"read:{counter}", f"read:{secret}", "read:/proc/self/status")
    assert got == {f"read:{counter}": None, f"read:{secret}": "EACCES", "read:/proc/self/status": "EACCES"}


@needs_landlock
def test_enrich_reads_proc_sysfs_accounts_but_no_other_file_and_no_tcp(secret: Path, listener: int) -> None:
    allowed = (
        "read:/proc/self/status",
        "list:/proc",
        "read:/sys/class/net/lo/statistics/rx_bytes",
        "read:/etc/passwd",
    )
    status, got = probe(
        "rn-enrich", "best-effort", *allowed, f"read:{secret}", f"connect:{listener}", "exec:/bin/true"
    )
    assert status["state"] == "Fully enforced"
    assert got == {
        **dict.fromkeys(allowed),
        f"read:{secret}": "EACCES",
        f"connect:{listener}": "EACCES",
        "exec:/bin/true": "EACCES",
    }


@needs_landlock
def test_track_enriching_reads_the_name_files_but_not_proc_and_no_tcp(
    secret: Path, tmp_path: Path, listener: int
) -> None:
    # rn-track --enrich: services (/etc/services through the C library), GeoIP and OUI
    # directories; still no /proc (no process attribution), no other file, no TCP, no exec.
    allowed = ("read:/etc/services", "read:/etc/nsswitch.conf", "read:/etc/hosts")
    if os.path.isdir("/usr/share/ieee-data"):
        allowed += ("list:/usr/share/ieee-data",)
    refused = (
        f"read:{secret}",
        "read:/proc/self/status",
        "read:/sys/class/net/lo/statistics/rx_bytes",
        f"write:{tmp_path / 'dropped'}",
        f"connect:{listener}",
        "exec:/bin/true",
    )
    status, got = probe("rn-track", "best-effort", "--names", *allowed, *refused)
    assert status["state"] == "Fully enforced"
    assert got == {**dict.fromkeys(allowed), **dict.fromkeys(refused, "EACCES")}
    # Without --enrich, none of the name files.
    _, plain = probe("rn-track", "best-effort", "read:/etc/services")
    assert plain == {"read:/etc/services": "EACCES"}


@needs_landlock
def test_enrich_with_reverse_dns_may_connect_to_port_53_only(listener: int) -> None:
    attempts = ("connect:53", f"connect:{listener}", "resolve:127.0.0.1", "user:65534")
    _, got = probe("rn-enrich", "best-effort", "--reverse-dns", *attempts)
    # Nothing listens on 53 here: refused by the port, not by Landlock. The C library still
    # reads /etc/hosts and the account database for the names.
    assert got == {
        "connect:53": "ECONNREFUSED",
        f"connect:{listener}": "EACCES",
        "resolve:127.0.0.1": None,
        "user:65534": None,
    }
    _, dissect = probe("rn-dissect", "best-effort", "resolve:127.0.0.1", "user:65534")
    assert dissect["user:65534"] == "KeyError" and dissect["resolve:127.0.0.1"] is not None


@needs_landlock
def test_an_older_kernel_abi_is_partially_enforced_and_leaves_tcp_open(secret: Path, listener: int) -> None:
    status, got = probe(
        "rn-dissect", "best-effort", f"read:{secret}", f"connect:{listener}", env={landlock.TEST_ABI_ENV: "3"}
    )
    assert status["state"] == "Partially enforced" and status["abi"] == 3
    assert "FS restricted" in status["features"] and "Net blocked" not in status["features"]
    assert got == {f"read:{secret}": "EACCES", f"connect:{listener}": None}


# --- the stages themselves --------------------------------------------------------------
CAPTURES = [
    "ndpi_quic-v2.pcapng",  # QUIC decryption: modules imported after the sandbox is on
    "ndpi_tls_ech.pcapng",
    "ndpi_dns.pcap",
    "ndpi_http.pcapng",
    "tcpdump_ssh.pcap",
    "dpkt_truncated_dns.pcap",
    "suricata_decode-arp-2.pcap",
    "ndpi_iphone.pcap",
]


def packets(name: str) -> bytes:
    return subprocess.run(
        [rn("rn-capture"), "-r", str(PCAPS / name)], capture_output=True, timeout=60, check=True
    ).stdout


def pipeline(
    data: bytes, *extra: str, env: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], bytes]:
    """rn-dissect | rn-track on ``data`` with ``extra`` options on both; (records, stderr)."""
    environ = {**os.environ, **(env or {})}
    dissect = subprocess.run(
        [rn("rn-dissect"), *extra], input=data, capture_output=True, timeout=120, env=environ
    )
    assert dissect.returncode == 0, dissect.stderr
    track = subprocess.run(
        [rn("rn-track"), "--format", "json", *extra],
        input=dissect.stdout,
        capture_output=True,
        timeout=120,
        env=environ,
    )
    assert track.returncode == 0, track.stderr
    return [json.loads(line) for line in track.stdout.splitlines()], dissect.stderr + track.stderr


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without what differs run to run (wall-clock times, the header's privileges)."""
    out = []
    for rec in records:
        rec = dict(rec)
        if rec.get("t") in ("hdr", "stats", "dstats"):
            rec.pop("ts", None)
            rec.pop("privs", None)
            rec.pop("start", None)
        out.append(rec)
    return out


def sandboxes(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {p["stage"]: p.get("sandbox") for p in records[0]["privs"]}


@needs_landlock
@pytest.mark.parametrize("capture", CAPTURES)
def test_dissect_and_track_give_the_same_records_inside_the_sandbox(capture: str) -> None:
    data = packets(capture)
    sandboxed, errors = pipeline(data)
    free, _ = pipeline(data, "--no-sandbox")
    assert errors == b""
    assert len(sandboxed) > 2
    assert comparable(sandboxed) == comparable(free)
    states = sandboxes(sandboxed)
    assert states["rn-dissect"]["state"] == states["rn-track"]["state"] == "Fully enforced"
    assert sandboxes(free)["rn-dissect"]["state"] == "Not applied"


def test_no_sandbox_leaves_it_off_and_says_so() -> None:
    records, _ = pipeline(packets("ndpi_dns.pcap"), "--no-sandbox")
    for stage in ("rn-dissect", "rn-track"):
        assert sandboxes(records)[stage] == {
            "state": "Not applied",
            "abi": KERNEL_ABI,
            "features": ["No new privs"],
            "reason": "--no-sandbox",
        }


@pytest.mark.parametrize("stage", ["rn-dissect", "rn-track"])
@pytest.mark.parametrize("abi", ["0", "5"])
def test_sandbox_strict_exits_when_landlock_is_missing_or_partial(stage: str, abi: str) -> None:
    data = packets("ndpi_dns.pcap")
    env = {**os.environ, landlock.TEST_ABI_ENV: abi}
    if stage == "rn-track":
        data = subprocess.run(
            [rn("rn-dissect"), "--no-sandbox"], input=data, capture_output=True, check=True
        ).stdout
    strict = subprocess.run(
        [rn(stage), "--sandbox-strict"], input=data, capture_output=True, timeout=60, env=env
    )
    assert strict.returncode == 1
    state = "not applied" if abi == "0" else "partially enforced"
    assert strict.stderr.decode().startswith(f"{stage}: --sandbox-strict: sandbox {state}")
    assert strict.stdout == b""  # nothing parsed before the refusal
    # Best effort goes on, and says what it got.
    loose = subprocess.run([rn(stage)], input=data, capture_output=True, timeout=60, env=env)
    assert loose.returncode == 0, loose.stderr


def test_best_effort_without_landlock_reports_not_applied() -> None:
    records, errors = pipeline(packets("ndpi_dns.pcap"), env={landlock.TEST_ABI_ENV: "0"})
    assert errors == b""
    state = sandboxes(records)["rn-dissect"]
    assert state["state"] == "Not applied" and state["abi"] == 0 and state["reason"]


@needs_landlock
def test_sandbox_strict_passes_when_fully_enforced() -> None:
    records, _ = pipeline(packets("ndpi_dns.pcap"), "--sandbox-strict")
    assert sandboxes(records)["rn-track"]["state"] == "Fully enforced"


@pytest.mark.parametrize("stage", ["rn-dissect", "rn-track"])
def test_no_sandbox_and_sandbox_strict_together_are_a_usage_error(stage: str) -> None:
    run = subprocess.run(
        [rn(stage), "--no-sandbox", "--sandbox-strict"], input=b"", capture_output=True, timeout=60
    )
    assert run.returncode == 2 and b"contradict" in run.stderr


@needs_landlock
def test_dissect_still_reads_input_files_named_on_its_command_line(tmp_path: Path) -> None:
    first, second = tmp_path / "a.rn", tmp_path / "b.rn"
    first.write_bytes(packets("ndpi_dns.pcap"))
    second.write_bytes(packets("tcpdump_ssh.pcap"))
    run = subprocess.run(
        [rn("rn-dissect"), "--format", "json", str(first), str(second)], capture_output=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count(b'"t":"sum"') > 10


# --- what the viewer shows ---------------------------------------------------------------
def test_viewer_help_and_system_data_show_each_stages_sandbox() -> None:
    from rustnet.view.model import ConnTable
    from rustnet.view.render import help_entries
    from rustnet.view.state import ViewState

    full = {"state": "Fully enforced", "abi": 7, "features": ["FS restricted", "Net blocked", "No new privs"]}
    off = {"state": "Not applied", "abi": 7, "features": ["No new privs"], "reason": "--no-sandbox"}
    hostile = {"state": "Fully enforced\x1b[2J", "abi": 7, "features": []}
    privs = [
        {"stage": "rn-dissect", "user": "nobody", "uid": 65534, "caps": [], "sandbox": full},
        {"stage": "rn-track", "user": "nobody", "uid": 65534, "caps": [], "sandbox": off},
        {"stage": "rn-enrich", "user": "root", "uid": 0, "caps": [], "sandbox": hostile},
    ]
    table = ConnTable()
    table.ingest([{"t": "hdr", "v": 1, "privs": privs}])
    entries = help_entries(ViewState(table))
    section = entries[entries.index(("Privileges", "")) + 1 :]
    assert section[:8] == [
        ("rn-dissect", "nobody, no capabilities"),
        ("", "Sandbox: Fully enforced · Landlock ABI v7"),
        ("", "FS restricted, Net blocked, No new privs"),
        ("rn-track", "nobody, no capabilities"),
        ("", "Sandbox: Not applied · Landlock ABI v7"),
        ("", "No new privs"),
        ("", "--no-sandbox"),
        ("rn-enrich", "root, no capabilities"),  # a state we do not know is not shown
    ]
    assert table.sandboxes == [
        (
            "rn-dissect",
            ["Sandbox: Fully enforced · Landlock ABI v7", "FS restricted, Net blocked, No new privs"],
        ),
        ("rn-track", ["Sandbox: Not applied · Landlock ABI v7", "No new privs", "--no-sandbox"]),
    ]


CLIPBOARD = """
import sys
from rustnet import sandbox
from rustnet.view import clipboard
sandbox.apply("rn-view", sys.argv[1], children=True)
print(clipboard.copy("192.0.2.7:443", None))
print(clipboard.copy("192.0.2.7:443", lambda seq: None))  # a terminal took the OSC 52 sequence
"""


@needs_landlock
def test_clipboard_under_the_sandbox_says_to_use_no_sandbox(tmp_path: Path) -> None:
    tools, marker = tmp_path / "bin", tmp_path / "pasted"
    tools.mkdir()
    xclip = tools / "xclip"
    xclip.write_text(f"#!/bin/sh\ncat > {marker}\n")
    xclip.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "DISPLAY": ":0"}
    env.pop("WAYLAND_DISPLAY", None)

    def copy(mode: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", CLIPBOARD, mode], capture_output=True, env=env, timeout=60
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.decode().strip().splitlines()

    assert copy("best-effort") == [
        "Clipboard unavailable (sandbox active). Use --no-sandbox to enable.",
        "copied 192.0.2.7:443 (OSC 52 sent to the terminal; xclip blocked by the sandbox: --no-sandbox)",
    ]
    assert not marker.exists()
    assert copy("off") == [
        "copied 192.0.2.7:443 (system clipboard via xclip)",
        "copied 192.0.2.7:443 (OSC 52 sent to the terminal; system clipboard via xclip)",
    ]
    assert marker.read_text() == "192.0.2.7:443"


# --- rn-capture, rn-enrich, rn-view and rustnet -----------------------------------------------
@needs_landlock
def test_capture_sandboxed_after_its_file_is_open_same_records() -> None:
    pcap = str(PCAPS / "ndpi_http.pcapng")
    runs = {
        mode: subprocess.run(
            [rn("rn-capture"), "-r", pcap, "--format", "json", *extra], capture_output=True, timeout=60
        )
        for mode, extra in (("on", ["--sandbox-strict"]), ("off", ["--no-sandbox"]))
    }
    on, off = ([json.loads(line) for line in runs[m].stdout.splitlines()] for m in ("on", "off"))
    assert runs["on"].returncode == 0 and runs["on"].stderr == b""
    assert comparable(on) == comparable(off) and len(on) > 10
    state = on[0]["privs"][0]["sandbox"]
    assert state["state"] == "Fully enforced"
    if os.geteuid() == 0:  # dropped to nobody first, then the sandbox
        assert {"Root UID dropped", "CAP_NET_RAW dropped"} <= set(state["features"])
    assert off[0]["privs"][0]["sandbox"]["state"] == "Not applied"


def test_capture_no_uid_drop_keeps_root_and_strict_fails_without_landlock() -> None:
    pcap = str(PCAPS / "ndpi_dns.pcap")
    kept = subprocess.run(
        [rn("rn-capture"), "-r", pcap, "--format", "json", "--no-uid-drop"], capture_output=True, timeout=60
    )
    assert kept.returncode == 0
    assert json.loads(kept.stdout.splitlines()[0])["privs"][0]["uid"] == os.geteuid()
    env = {**os.environ, landlock.TEST_ABI_ENV: "0"}
    strict = subprocess.run([rn("rn-capture"), "-r", pcap, "--sandbox-strict"], capture_output=True, env=env)
    assert strict.returncode == 1 and strict.stdout == b""
    assert strict.stderr.startswith(b"rn-capture: --sandbox-strict: sandbox not applied")


@needs_landlock
def test_enrich_sandboxed_gives_the_same_records() -> None:
    data = subprocess.run(
        [rn("rn-track"), "--no-sandbox"],
        input=subprocess.run(
            [rn("rn-dissect"), "--no-sandbox"],
            input=packets("ndpi_dns.pcap"),
            capture_output=True,
            check=True,
        ).stdout,
        capture_output=True,
        check=True,
    ).stdout
    runs = [
        subprocess.run(
            [rn("rn-enrich"), "--no-process", "--format", "json", *extra],
            input=data,
            capture_output=True,
            timeout=60,
        )
        for extra in (["--sandbox-strict"], ["--no-sandbox"])
    ]
    assert runs[0].returncode == 0 and runs[0].stderr == b""
    on, off = ([json.loads(line) for line in run.stdout.splitlines()] for run in runs)
    assert comparable(on) == comparable(off)
    assert on[0]["privs"][-1]["sandbox"]["state"] == "Fully enforced"
    # Process attribution needs to look into processes outside any sandbox: Landlock forbids it.
    attributing = subprocess.run([rn("rn-enrich"), "--format", "json"], input=data, capture_output=True)
    assert attributing.returncode == 0
    state = json.loads(attributing.stdout.splitlines()[0])["privs"][-1]["sandbox"]
    assert state["state"] == "Not applied" and "process attribution" in state["reason"]
    strict = subprocess.run([rn("rn-enrich"), "--sandbox-strict"], input=data, capture_output=True)
    assert strict.returncode == 1 and strict.stderr.startswith(
        b"rn-enrich: --sandbox-strict: sandbox not applied"
    )


@needs_landlock
def test_view_sandboxed_once_every_input_is_open(tmp_path: Path) -> None:
    # Several inputs are read side by side: a capture file's rn-capture starts before the
    # sandbox closes, so even --sandbox-strict reads a recording and a capture together.
    rec = tmp_path / "rec.rn"
    rec.write_bytes(packets("ndpi_dns.pcap"))
    first, second = str(PCAPS / "ndpi_dns.pcap"), str(PCAPS / "tcpdump_ssh.pcap")
    strict = subprocess.run(
        [rn("rn-view"), "--json", "--sandbox-strict", str(rec), second], capture_output=True
    )
    assert strict.returncode == 0, strict.stderr
    nodes = {json.loads(line).get("node") for line in strict.stdout.splitlines()}
    assert nodes == {"rec", "tcpdump_ssh"}, nodes
    both = subprocess.run(
        [rn("rn-view"), "--json", first, second], capture_output=True
    )  # best effort: reads both
    assert both.returncode == 0 and both.stdout.count(b'"t":"conn"') >= 2
    ok = subprocess.run([rn("rn-view"), "--json", "--sandbox-strict", str(rec)], capture_output=True)
    assert ok.returncode == 0 and ok.stdout.count(b'"t":"conn"') >= 1, ok.stderr


def recorded_sandboxes(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    rec = tmp_path / "rec.rn"
    run = subprocess.run(
        [rn("rustnet"), "--read", str(PCAPS / "ndpi_dns.pcap"), "--json", "--record", str(rec), *args],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    assert run.returncode == 0, run.stderr
    fd = os.open(rec, os.O_RDONLY)
    try:
        header = next(iter(RecordReader(fd, rec.name)))
    finally:
        os.close(fd)
    assert isinstance(header, dict) and header["t"] == "hdr"
    return {p["stage"]: p for p in header["privs"]}


@needs_landlock
def test_rustnet_stages_are_sandboxed_and_no_sandbox_reaches_every_stage(tmp_path: Path) -> None:
    on = recorded_sandboxes(tmp_path)
    assert {s: p["sandbox"]["state"] for s, p in on.items()} == dict.fromkeys(
        ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"], "Fully enforced"
    )
    off = recorded_sandboxes(tmp_path, "--no-sandbox")
    assert {s: p["sandbox"]["reason"] for s, p in off.items()} == dict.fromkeys(
        ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"], "--no-sandbox"
    )
    if os.geteuid() == 0:  # --no-sandbox keeps root, as RustNet
        assert {p["uid"] for p in off.values()} == {0}
        assert on["rn-capture"]["uid"] != 0


def test_rustnet_sandbox_strict_fails_without_landlock(tmp_path: Path) -> None:
    run = subprocess.run(
        [rn("rustnet"), "--read", str(PCAPS / "ndpi_dns.pcap"), "--json", "--sandbox-strict"],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, landlock.TEST_ABI_ENV: "0"},
    )
    assert run.returncode == 1 and run.stdout == b""
    assert b"--sandbox-strict: sandbox not applied: the kernel has no Landlock" in run.stderr
    both = subprocess.run(
        [rn("rustnet"), "--no-sandbox", "--sandbox-strict"], capture_output=True, timeout=60
    )
    assert both.returncode == 2


@needs_landlock
def test_export_connects_to_its_collector_port_only(listener: int, secret: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        elsewhere = other.getsockname()[1]
        _, got = probe(
            "rn-export",
            "best-effort",
            f"--port={listener}",
            f"connect:{listener}",
            f"connect:{elsewhere}",
            f"read:{secret}",
        )
    assert got == {f"connect:{listener}": None, f"connect:{elsewhere}": "EACCES", f"read:{secret}": "EACCES"}


@needs_landlock
def test_export_sandboxed_still_sends_to_a_tcp_collector() -> None:
    data = subprocess.run(
        [rn("rn-track"), "--no-sandbox"],
        input=subprocess.run(
            [rn("rn-dissect"), "--no-sandbox"],
            input=packets("ndpi_http.pcapng"),
            capture_output=True,
            check=True,
        ).stdout,
        capture_output=True,
        check=True,
    ).stdout
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.listen(1)
        collector.settimeout(30)
        port = collector.getsockname()[1]
        run = subprocess.Popen(
            [
                rn("rn-export"),
                "--ipfix",
                f"127.0.0.1:{port}",
                "--tcp",
                "--sandbox-strict",
                "--format",
                "json",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = run.communicate(data, timeout=60)
        conn, _ = collector.accept()
        with conn:
            conn.settimeout(5)
            message = conn.recv(65536)
    assert run.returncode == 0, err
    assert message[:2] == b"\x00\x0a"  # an IPFIX message (version 10) reached the collector
    header = json.loads(out.splitlines()[0])
    assert header["privs"][-1]["stage"] == "rn-export"
    assert header["privs"][-1]["sandbox"]["state"] == "Fully enforced"


@needs_landlock
def test_viewer_reads_the_terminal_descriptions_the_user_points_to(tmp_path: Path, secret: Path) -> None:
    entry = tmp_path / "terminfo" / "x" / "xterm-mine"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"\x1a\x01")
    env = {"TERMINFO": str(tmp_path / "terminfo")}
    _, got = probe("rn-view", "best-effort", f"read:{entry}", f"read:{secret}", env=env)
    assert got == {f"read:{entry}": None, f"read:{secret}": "EACCES"}


INFLATER = """
import errno, sys, threading
from rustnet.capture.run import CaptureOptions, _thread_setup
setup = _thread_setup(CaptureOptions(read_file="x.pcap.gz", sandbox_mode=sys.argv[1]))
seen = []
def inflater():
    if setup is not None:
        setup()
    try:
        open(sys.argv[2], "rb").close()
        seen.append("read")
    except OSError as exc:
        seen.append(errno.errorcode[exc.errno])
thread = threading.Thread(target=inflater)
thread.start()
thread.join()
open(sys.argv[2], "rb").close()  # the main thread is not restricted by its helper's sandbox
print(seen[0])
"""


@needs_landlock
def test_capture_inflater_thread_is_sandboxed_from_its_start(secret: Path) -> None:
    """A gzip'd capture is inflated by a thread started before the capture restricts itself:
    it restricts itself first thing, with the capture's rules."""
    for mode, expected in (("best-effort", "EACCES"), ("off", "read")):
        run = subprocess.run(
            [sys.executable, "-c", INFLATER, mode, str(secret)], capture_output=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.decode().strip() == expected
    gz = secret.parent / "http.pcapng.gz"
    gz.write_bytes(gzip.compress((PCAPS / "ndpi_http.pcapng").read_bytes()))
    plain, packed = (
        subprocess.run(
            [rn("rn-capture"), "-r", str(p), "--format", "json", "--sandbox-strict"], capture_output=True
        )
        for p in (PCAPS / "ndpi_http.pcapng", gz)
    )
    assert packed.returncode == 0, packed.stderr

    def packets_of(run: subprocess.CompletedProcess[bytes]) -> list[Any]:
        return [r for r in map(json.loads, run.stdout.splitlines()) if r["t"] == "pkt"]

    assert packets_of(packed) == packets_of(plain) and len(packets_of(plain)) > 5


def test_system_panel_shows_each_stages_sandbox_within_its_width() -> None:
    from rustnet.view import system
    from rustnet.view.model import ConnTable
    from rustnet.view.state import ViewState

    reason = "process attribution looks into other processes, which Landlock forbids (--no-process allows it)"
    privs = [
        {
            "stage": "rn-dissect",
            "user": "nobody",
            "uid": 65534,
            "caps": [],
            "sandbox": {
                "state": "Fully enforced",
                "abi": 7,
                "features": ["FS restricted", "Net blocked", "No new privs"],
            },
        },
        {
            "stage": "rn-enrich",
            "user": "root",
            "uid": 0,
            "caps": [],
            "sandbox": {"state": "Not applied", "abi": 7, "features": ["No new privs"], "reason": reason},
        },
    ]
    table = ConnTable()
    table.ingest([{"t": "hdr", "v": 1, "privs": privs}])
    lines = system.lines(ViewState(table), 80)
    texts = [text for text, _ in lines]
    at = texts.index("Security")
    assert lines[at + 2 : at + 7] == [
        ("  Sandbox: Fully enforced", "ok"),
        ("  Landlock ABI v7", "dim"),
        ("  • FS restricted", ""),
        ("  • Net blocked", ""),
        ("  • No new privs", ""),
    ]
    enrich = texts.index("  Sandbox: Not applied")
    assert lines[enrich][1] == "warn" and texts[enrich + 2] == "  • No new privs"
    assert " ".join(t.strip() for t in texts[enrich + 3 : enrich + 6]).startswith(reason[:60])
    assert all(len(t) <= system.WIDTH for t in texts[at : enrich + 6])


@needs_landlock
@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop is for root")
def test_rustnet_no_uid_drop_keeps_root_and_the_sandbox(tmp_path: Path) -> None:
    dropped = recorded_sandboxes(tmp_path)
    assert dropped["rn-capture"]["uid"] != 0
    assert "Root UID dropped" in dropped["rn-capture"]["sandbox"]["features"]
    kept = recorded_sandboxes(tmp_path, "--no-uid-drop")
    assert {stage: p["uid"] for stage, p in kept.items()} == dict.fromkeys(
        ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"], 0
    )
    assert {p["sandbox"]["state"] for p in kept.values()} == {"Fully enforced"}
    assert "Root UID dropped" not in kept["rn-capture"]["sandbox"]["features"]
