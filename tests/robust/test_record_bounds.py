"""Record streams are capped like packets: a recording cannot make a viewer hold more than
``--max-connections`` connections, nor megabyte strings or endless lists.

Memory is measured on the real commands (peak RSS of the process, from /proc), over
streams generated here: far more open connections than the cap, records with strings
past the limits, lists of tens of thousands of items.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgpack

from tests.robust.util import assert_one_line_no_traceback, cmd, wait_with_peak_rss
from tests.tui.records import conn, header

OPEN_CONNECTIONS = 200_000
CAP = 1000
# Holding every one of 200k open connections took rn-view ~370 MB and rustnet --json ~300 MB;
# at a cap of 1000 both hold about 30 MB (the interpreter and its modules are most of it).
CAPPED_PEAK_MB = 100


def _open_connections(path: Path, n: int) -> None:
    """A recording of ``n`` connections that never end (no final records)."""
    packer = msgpack.Packer(use_bin_type=True)
    with open(path, "wb") as f:
        f.write(packer.pack([header()]))
        for start in range(1, n + 1, 256):
            f.write(
                packer.pack(
                    [
                        conn(i, app="TLS", sni=f"host{i}.example.com")
                        for i in range(start, min(start + 256, n + 1))
                    ]
                )
            )
    path.chmod(0o644)
    path.parent.chmod(0o755)  # rustnet's stages may read it as an unprivileged user


def _peak(argv: list[str]) -> tuple[float, int, bytes, bytes]:
    """Run ``argv``; its peak RSS in MiB, exit status, stdout and stderr."""
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def drain(name: str, pipe: IO[bytes]) -> None:
        for block in iter(lambda: pipe.read(1 << 16), b""):
            chunks[name].append(block)

    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as p:
        assert p.stdout is not None and p.stderr is not None
        # Read both pipes while it runs: a full pipe would stall it (and its peak with it).
        threads = [
            threading.Thread(target=drain, args=("out", p.stdout)),
            threading.Thread(target=drain, args=("err", p.stderr)),
        ]
        for t in threads:
            t.start()
        (peak,) = wait_with_peak_rss([p], timeout=120)
        for t in threads:
            t.join()
    return peak, p.returncode, b"".join(chunks["out"]), b"".join(chunks["err"])


def test_rn_view_json_holds_at_most_max_connections_of_a_recording(tmp_path: Path) -> None:
    rec = tmp_path / "open.rn"
    _open_connections(rec, OPEN_CONNECTIONS)
    peak, status, out, err = _peak([cmd("rn-view"), "--json", "--max-connections", str(CAP), str(rec)])
    assert status == 0, err
    assert peak < CAPPED_PEAK_MB, f"rn-view --json peaked at {peak:.0f} MB"
    # Every connection is still printed once (the evicted ones when they were dropped).
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert len(ids) == OPEN_CONNECTIONS == len(set(ids))
    assert b"evicted at the cap of 1,000" in err


def test_rustnet_json_holds_at_most_max_connections_of_a_recording(tmp_path: Path) -> None:
    rec = tmp_path / "open.rn"
    _open_connections(rec, OPEN_CONNECTIONS)
    peak, status, out, err = _peak(
        [cmd("rustnet"), "--read", str(rec), "--json", "--max-connections", str(CAP)]
    )
    assert status == 0, err
    assert peak < CAPPED_PEAK_MB, f"rustnet --json peaked at {peak:.0f} MB"
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert len(ids) == OPEN_CONNECTIONS == len(set(ids))
    assert b"written early at the cap of 1,000" in err


def _huge_string_records(count: int, size: int) -> Iterator[bytes]:
    packer = msgpack.Packer(use_bin_type=True)
    yield packer.pack([header()])
    for i in range(1, count + 1):
        yield packer.pack([conn(i, app="HTTP", http_host="h" * size, process=f"p{i}")])


def test_megabyte_strings_end_the_stream_as_damaged_with_bounded_memory() -> None:
    # 60 records with 8 MB strings took rn-view to 1.5 GB. A string that long is damage now:
    # the records before it count, then one line and status 3; the string is never built.
    with subprocess.Popen(
        [cmd("rn-view"), "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # nothing left to flush into a pipe it closed
    ) as p:
        assert p.stdin is not None and p.stdout is not None and p.stderr is not None
        stdin = p.stdin

        def feed() -> None:
            try:
                for chunk in _huge_string_records(60, 8 << 20):
                    stdin.write(chunk)
                stdin.close()
            except BrokenPipeError:
                pass  # it stopped reading at the damage

        writer = threading.Thread(target=feed)
        writer.start()
        (peak,) = wait_with_peak_rss([p], timeout=120)
        writer.join()
        out, err = p.stdout.read(), p.stderr.read()
    assert peak < CAPPED_PEAK_MB, f"rn-view peaked at {peak:.0f} MB"
    assert p.returncode == 3, err
    assert_one_line_no_traceback(err)
    assert b"over the limits" in err
    assert out == b""  # the first record already held one


def test_long_strings_and_lists_are_cut_and_counted(tmp_path: Path) -> None:
    rec = tmp_path / "long.rn"
    packer = msgpack.Packer(use_bin_type=True)
    recs = [
        header(),
        conn(
            1,
            app="TLS",
            sni="s" * 60_000,
            dns_answers=[f"a{i} A 10.0.0.1" for i in range(50_000)],
            final=True,
        ),
        conn(2, app="TLS", sni="short.example", alpn=["h2"], final=True),
    ]
    rec.write_bytes(packer.pack(recs))
    rec.chmod(0o644)
    tmp_path.chmod(0o755)
    for argv in ([cmd("rn-view"), "--json", str(rec)], [cmd("rustnet"), "--read", str(rec), "--json"]):
        p = subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        by_id = {r["id"]: r for r in map(json.loads, p.stdout.splitlines())}
        assert by_id[1]["sni"] == "s" * 4096 + "\u2026"  # 4096 characters and a mark
        assert by_id[1]["dns_answers"] == [f"a{i} A 10.0.0.1" for i in range(64)]
        assert by_id[2]["sni"] == "short.example" and by_id[2]["alpn"] == ["h2"]
        assert b"2 values of records cut to the record limits" in p.stderr, p.stderr
