"""rn-dissect only calls DPI for empty TCP segments whose flags can change its state."""

from __future__ import annotations

from rustnet.dissect.dpi import _DONE, Inspector
from rustnet.dissect.engine import _DPI_CONTROL

from tests import dpi_samples as S

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def _states(insp: Inspector) -> list[tuple[object, ...]]:
    return [
        (k, v is _DONE, getattr(v, "kind", None), getattr(v, "closed", None)) for k, v in insp._flows.items()
    ]


def _inspectors() -> list[Inspector]:
    """An inspector with a live flow, one with a finished flow, one with none."""
    live, done = Inspector(), Inspector()
    live.inspect(6, A, 40000, B, 443, S.client_hello(sni=b"a.example")[:20], 0.0, 1, 0x18)
    done.inspect(6, A, 40001, B, 80, b"\x00junk that is not a known protocol at all", 0.0, 1, 0x18)
    for _ in range(8):
        done.inspect(6, B, 80, A, 40001, b"\x00more junk", 0.0, None, 0x18)
    assert any(v is _DONE for v in done._flows.values())
    return [live, done, Inspector()]


def test_skipped_flags_change_nothing() -> None:
    skipped = [f for f in range(256) if not _DPI_CONTROL[f]]
    assert 0x12 in skipped and 0x10 in skipped and 0x02 not in skipped
    assert all(_DPI_CONTROL[f] for f in range(256) if f & 0x05)
    for flags in skipped:
        for insp in _inspectors():
            before = _states(insp)
            for sport, dport, src, dst in (
                (40000, 443, A, B),
                (443, 40000, B, A),
                (40001, 80, A, B),
                (80, 40001, B, A),
            ):
                assert insp.inspect(6, src, sport, dst, dport, b"", 0.0, 7, flags) is None
            assert _states(insp) == before, flags
