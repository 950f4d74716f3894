"""What a viewer keeps of a hostile recording: the record limits of rustnet-records(5).

The records are built by hand here, each one just inside or just past one limit (4096
characters of text, 64 list items of at most 1024 characters, 64 fields named by at most 64
characters, no lists or maps inside lists), and go through ``rn-view --json`` as a JSON Lines
recording: what comes out, and the count on standard error, are the command's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
ELLIPSIS = "\u2026"


def _conn(i: int, **fields: Any) -> dict[str, Any]:
    rec = {
        "t": "conn",
        "id": i,
        "proto": "tcp",
        "src": "10.0.0.1",
        "sport": 40000 + i,
        "dst": "10.0.0.2",
        "dport": 443,
        "first_seen": 1.0,
        "last_seen": 2.0,
        "final": True,
    }
    rec.update(fields)
    return rec


def _view(tmp_path: Path, recs: list[dict[Any, Any]]) -> tuple[dict[int, dict[str, Any]], str]:
    stream = tmp_path / "rec.jsonl"
    hdr = {"t": "hdr", "v": 1, "producer": "rn-track 0.1.0", "linktype": 1, "live": False}
    stream.write_text("".join(json.dumps(r) + "\n" for r in [hdr, *recs]))
    p = subprocess.run(
        [str(BIN / "rn-view"), "--json", str(stream)], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    out = {r["id"]: r for r in map(json.loads, p.stdout.splitlines()) if r.get("t") == "conn"}
    return out, p.stderr


def test_records_within_the_limits_pass_unchanged(tmp_path: Path) -> None:
    edge = _conn(
        1,
        sni="a" * 4096,
        alpn=["b" * 1024] * 64,
        **{"k" * 64: 1, "ratio": 0.5, "open": False, "none": None},
    )
    out, err = _view(tmp_path, [edge])
    for key in ("sni", "alpn", "k" * 64, "ratio", "open"):
        assert out[1][key] == edge[key], key
    assert "cut" not in err, err


def test_text_past_the_limit_is_cut_and_counted(tmp_path: Path) -> None:
    out, err = _view(tmp_path, [_conn(1, sni="a" * 4097), _conn(2, sni="a" * 1_000_000)])
    assert out[1]["sni"] == "a" * 4096 + ELLIPSIS
    assert out[2]["sni"] == "a" * 4096 + ELLIPSIS
    assert "2 values of records cut to the record limits" in err, err


def test_lists_keep_64_plain_items_of_1024_characters(tmp_path: Path) -> None:
    recs = [
        _conn(1, alpn=[str(i) for i in range(65)]),
        _conn(2, alpn=["b" * 1025, "h2"]),
        _conn(3, alpn=["h2", ["nested"], {"a": 1}, 7]),
    ]
    out, err = _view(tmp_path, recs)
    assert out[1]["alpn"] == [str(i) for i in range(64)]
    assert out[2]["alpn"] == ["b" * 1024 + ELLIPSIS, "h2"]
    assert out[3]["alpn"] == ["h2", 7]  # a list or map inside a list is dropped
    assert "4 values of records cut" in err, err


def test_fields_past_64_and_bad_names_are_dropped(tmp_path: Path) -> None:
    many = _conn(1, **{f"extra{i:02}": i for i in range(60)})  # 10 fields, then 60 more
    long_name = _conn(2, **{"k" * 65: 1, "kept": 2})
    out, err = _view(tmp_path, [many, long_name])
    extras = sorted(k for k in out[1] if k.startswith("extra"))
    assert extras == [f"extra{i:02}" for i in range(54)]  # the first 64 fields in order
    assert "k" * 65 not in out[2] and out[2]["kept"] == 2
    assert "7 values of records cut" in err, err  # 6 fields past 64, one long name


def test_a_map_field_keeps_plain_entries(tmp_path: Path) -> None:
    rec = _conn(1, extra={"a": 1, "b": "c" * 1025, "n": [1], "k" * 65: 2})
    out, err = _view(tmp_path, [rec])
    assert out[1]["extra"] == {"a": 1, "b": "c" * 1024 + ELLIPSIS}
    assert "3 values of records cut" in err, err
