"""rn-view without a terminal: --json, --table, replay pacing, damaged input, capture files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rustnet.view.clipboard import osc52
from rustnet.view.source import Pacer, record_time
from rustnet.view.text import fit, safe, width

from tests.corpus import PCAPS as CORPUS
from tests.tui.records import T0, conn, sample, write_stream

RN_VIEW = str(Path(sys.executable).parent / "rn-view")


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RN_VIEW, *args],
        input=stdin.decode("latin-1") if stdin else None,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        encoding="utf-8" if stdin is None else None,
    )


def run_bytes(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([RN_VIEW, *args], input=stdin, capture_output=True, timeout=60)


@pytest.fixture()
def rec_path(tmp_path: Path) -> str:
    path = str(tmp_path / "s.rn")
    updates = [conn(1, state="SYN_SENT", bytes=10), conn(2, bytes=1), *sample(), conn(1, final=True)]
    write_stream(path, updates)
    return path


def test_json_prints_the_last_record_of_every_connection(rec_path: str) -> None:
    p = run("--json", rec_path)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["id"] for r in recs] == [1, 2, 3, 4, 5, 6, 7]
    assert recs[0]["final"] is True and "sni" not in recs[0]  # the last record replaces the earlier ones
    assert recs[1]["sni"] == "api.example.org"
    assert all(r["t"] == "conn" for r in recs)


def test_json_with_filter_and_no_localhost(rec_path: str) -> None:
    p = run("--json", "--filter", "proto:tcp !port:443", "--no-localhost", rec_path)
    assert [json.loads(line)["id"] for line in p.stdout.splitlines()] == [3, 5]


def test_table_snapshot_plain_text(rec_path: str) -> None:
    p = run("--table", "--sort", "process", rec_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["Process", "Remote", "Local"]
    assert "\x1b" not in p.stdout
    assert lines[1].startswith("curl (77)") and "api.example.org" in lines[1]
    assert len(lines) == 8


def test_stdout_not_a_terminal_implies_table(rec_path: str) -> None:
    p = run(rec_path)
    assert p.returncode == 0 and p.stdout.splitlines()[0].startswith("Process")


def test_hostile_fields_escaped_in_table_output(tmp_path: Path) -> None:
    path = str(tmp_path / "evil.rn")
    write_stream(path, [conn(1, app="HTTP", http_host="a\x1b]0;x\x07b\u202ec")])
    p = run("--table", path)
    assert "\x1b" not in p.stdout and "\u202e" not in p.stdout
    assert "a\\x1b]0;x\\x07b\\u202ec" in p.stdout


def test_json_lines_input_on_stdin() -> None:
    lines = "".join(json.dumps(r) + "\n" for r in sample())
    p = run("--json", stdin=lines.encode())
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == 7


def test_damaged_stream_keeps_what_came_before_and_exits_3(rec_path: str) -> None:
    data = Path(rec_path).read_bytes()
    p = run_bytes("--json", stdin=data[: len(data) - 7])
    assert p.returncode == 3
    assert len(p.stdout.splitlines()) >= 1
    assert b"rn-view:" in p.stderr and b"Traceback" not in p.stderr


def test_garbage_input_is_a_one_line_error() -> None:
    p = run_bytes("--table", stdin=b"\xc1\xc1\xc1 not a record stream")
    assert p.returncode == 3 and b"Traceback" not in p.stderr


def test_missing_file_is_an_io_error() -> None:
    p = run_bytes("--json", "/nonexistent/file.rn")
    assert p.returncode == 1 and p.stderr == b"rn-view: /nonexistent/file.rn: No such file or directory\n"


def test_speed_replays_at_the_recorded_pace(tmp_path: Path) -> None:
    path = str(tmp_path / "slow.rn")
    write_stream(path, [conn(i, first_seen=T0 + i * 0.5, last_seen=T0 + i * 0.5) for i in range(5)])
    t0 = time.monotonic()
    p = run("--json", "--speed", "4", path)  # 2 s of stream at 4x: about 0.5 s
    elapsed = time.monotonic() - t0
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 5
    assert elapsed >= 0.45
    t0 = time.monotonic()
    run("--json", path)
    assert time.monotonic() - t0 < elapsed  # default: as fast as possible


def test_pacer_releases_in_stream_time() -> None:
    pacer = Pacer(speed=1000.0)
    pacer.push([conn(1, last_seen=100.0), {"t": "warn", "msg": "x"}, conn(2, last_seen=101.0)])
    first = pacer.due()
    assert [r.get("id", "warn") for r in first if isinstance(r, dict)][:2] == [1, "warn"]
    nd = pacer.next_due()
    assert nd is not None
    time.sleep(0.01)
    assert [r["id"] for r in pacer.due() if isinstance(r, dict)] == [2]
    assert record_time(["pkt", 5.5, 60, b""]) == 5.5 and record_time({"t": "stats", "ts": "x"}) is None


@pytest.mark.skipif(not (CORPUS / "dpkt_http.pcap").exists(), reason="corpus not present")
def test_capture_file_is_read_through_rn_capture_and_completed_in_process() -> None:
    pcap = str(CORPUS / "dpkt_http.pcap")
    p = run("--read", pcap, "--json")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    hosts = {r.get("http_host") for r in recs}
    assert "www.ethereal.com" in hosts
    # Same connections as the pipeline of commands.
    pipe = subprocess.run(
        f"{Path(sys.executable).parent}/rn-capture -r {pcap} | {Path(sys.executable).parent}/rn-dissect"
        f" | {Path(sys.executable).parent}/rn-track --format json",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    last: dict[int, dict[str, object]] = {}
    for line in pipe.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("t") == "conn":
            last[rec["id"]] = rec
    finals = list(last.values())
    assert finals
    key = lambda r: (r["proto"], r["src"], r.get("sport"), r["dst"], r.get("dport"), r["bytes"])  # noqa: E731
    assert sorted(map(key, recs)) == sorted(map(key, finals))


def test_text_safety_and_width() -> None:
    assert safe("plain") == "plain"
    assert safe("a\x1bb\x9bc\u202ed\x00") == "a\\x1bb\\x9bc\\u202ed\\x00"
    assert safe("back\\slash\x07") == "back\\slash\\x07"  # record text is already escaped: one rule
    assert safe(None) == "" and safe(443) == "443"
    assert width("日本") == 4 and width("abc") == 3 and width("e\u0301") == 1
    assert fit("日本語", 5) == "日本…" and width(fit("日本語", 5)) == 5
    assert fit("abcdef", 4) == "abc…" and fit("ab", 4, right=True) == "  ab"


def test_rn_view_imports_wcwidth_only_for_text_that_is_not_ascii() -> None:
    """Its import is 30 ms of CPU at every start of rn-view --json, which measures no text."""
    check = (
        "import sys, rustnet_cmds.view\n"
        "from rustnet.view.text import fit, width\n"
        "before = 'wcwidth' in sys.modules\n"
        "fit('ascii only', 5); width('ascii')\n"
        "ascii = 'wcwidth' in sys.modules\n"
        "width('日本')\n"
        "print(before, ascii, 'wcwidth' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True"]


def test_osc52_sequence() -> None:
    assert osc52("10.0.0.1:443") == "\x1b]52;c;MTAuMC4wLjE6NDQz\x07"


def test_json_prints_ended_connections_as_they_end_each_once(tmp_path: Path) -> None:
    path = str(tmp_path / "churn.rn")
    recs = []
    for i in range(1, 301):  # connections that end (rn-track's final records) while others go on
        recs.append(conn(i, last_seen=T0 + i, app="TLS" if i % 2 else "HTTP"))
        if i > 3:
            app = "TLS" if (i - 3) % 2 else "HTTP"
            recs.append(conn(i - 3, final=True, end="timeout", state="CLOSED", last_seen=T0 + i, app=app))
    write_stream(path, recs)
    p = run("--json", "--max-connections", "10", path)
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    ids = [r["id"] for r in out]
    assert sorted(ids) == sorted(set(ids)) and set(ids) == set(range(1, 301))
    assert ids[:3] == [1, 2, 3]  # printed when they ended, before the ones still open at the end
    assert all(r["final"] for r in out if r["id"] <= 297)
    assert "evicted" not in p.stderr  # --json drops nothing it has not printed
    p = run("--json", "--filter", "app:http", path)
    assert sorted(json.loads(line)["id"] for line in p.stdout.splitlines()) == list(range(2, 301, 2))


def test_table_reports_evictions_at_the_cap(tmp_path: Path) -> None:
    path = str(tmp_path / "many.rn")
    write_stream(path, [conn(i) for i in range(1, 21)])
    p = run("--table", "--max-connections", "5", path)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) - 1 <= 5
    assert "connections evicted at the cap of 5" in p.stderr


def test_table_show_closed_keeps_the_whole_history(tmp_path: Path) -> None:
    path = str(tmp_path / "hist.rn")
    recs = [conn(i, last_seen=T0 + 100 * i, final=True, end="timeout") for i in range(1, 6)]
    write_stream(path, [*recs, conn(9, last_seen=T0 + 1000)])
    p = run("--table", "--show-closed", path)
    assert len(p.stdout.splitlines()) == 1 + 6  # ended long apart: a snapshot still lists them all
    p = run("--table", path)
    assert len(p.stdout.splitlines()) == 1 + 1


def test_filter_option_takes_a_regex_and_refuses_a_bad_one(rec_path: str) -> None:
    p = run("--json", "--filter", "dport:/^443$/ proc:fire", rec_path)
    assert p.returncode == 0, p.stderr
    assert [json.loads(line)["id"] for line in p.stdout.splitlines()] == [1]
    p = run("--json", "--filter", "sni:/(a+)+$/", rec_path)
    assert p.returncode == 2 and p.stdout == ""
    assert "bad regex sni:/(a+)+$/: nested repeats" in p.stderr and "Traceback" not in p.stderr
