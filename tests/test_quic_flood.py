"""A flood of QUIC Initials costs bounded work: counted key derivations, never time.

The flood is the real client Initial of a corpus capture sealed again under random DCIDs
(tests/quic_flood.py), so each packet is one a careless dissector must derive keys for.
Key derivations are counted by wrapping rustnet.dissect.quic_crypto.initial_keys, the one
function that makes them.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from rustnet.dissect import quic_crypto as qc
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.engine import Dissector
from rustnet.dissect.quic import INITIAL_BURST, INITIAL_RATE, MAX_OPENED_INITIALS

from tests import dissect_frames as F
from tests.quic_flood import SOURCE_SNI, flood_frames, flood_initials

SERVER = bytes((192, 0, 2, 1))
T0 = 1_700_000_000.0


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every DCID keys are derived for, in order (both directions count)."""
    made: list[bytes] = []
    real = qc.initial_keys

    def counting(dcid: bytes, profile: qc.Profile, server: bool) -> qc.InitialKeys:
        made.append(dcid)
        return real(dcid, profile, server)

    monkeypatch.setattr(qc, "initial_keys", counting)
    return made


def _send(insp: Inspector, packets: list[bytes], t0: float, rate: float, seed: int = 5) -> list[Any]:
    rng = random.Random(seed)
    out = []
    for i, pkt in enumerate(packets):
        src = bytes((198, 18, rng.randrange(256), rng.randrange(1, 255)))
        out.append(insp.inspect(17, src, rng.randrange(1024, 65536), SERVER, 443, pkt, t0 + i / rate))
    return out


def test_a_flood_of_distinct_dcids_derives_keys_within_the_budget(derivations: list[bytes]) -> None:
    k, rate = 6000, 3000.0  # two seconds of capture time
    flood = list(flood_initials(k))
    derivations.clear()  # building the flood derived keys too
    insp = Inspector()
    infos = _send(insp, flood, T0, rate)
    budget = INITIAL_BURST + INITIAL_RATE * (k - 1) / rate
    assert len(derivations) <= budget + 1 and len(derivations) <= k // 3  # most of the flood is skipped
    assert insp.quic_skipped == k - len(derivations)
    # Every flood flow still shows as QUIC with its version; only the SNI is missing when skipped.
    assert all(i is not None and i["app"] == "QUIC" and i["quic_version"] == "0x00000001" for i in infos)
    assert sum(1 for i in infos if i.get("sni") == SOURCE_SNI) == len(derivations)


def test_after_a_flood_a_new_connection_is_read_again(derivations: list[bytes]) -> None:
    flood = list(flood_initials(3000, seed=2))
    insp = Inspector()
    _send(insp, flood, T0, 30_000.0)
    assert insp.quic_skipped > 0
    # A second later the budget has refilled: the next client's hello is read.
    late = _send(insp, list(flood_initials(1, seed=3)), T0 + 1.1, 1.0, seed=9)
    assert late[0]["sni"] == SOURCE_SNI


def test_a_replayed_dcid_derives_its_keys_once(derivations: list[bytes]) -> None:
    one = next(flood_initials(1, seed=4))
    derivations.clear()
    insp = Inspector()
    infos = _send(insp, [one] * 200, T0, 1000.0)
    assert len(derivations) == 1  # from 200 source ports: the cache by version and DCID
    assert all(i["sni"] == SOURCE_SNI for i in infos)


def test_initials_decrypted_per_flow_are_bounded() -> None:
    one = next(flood_initials(1, seed=6))
    insp = Inspector()
    src = bytes((198, 18, 0, 1))
    for i in range(MAX_OPENED_INITIALS + 300):
        insp.inspect(17, src, 40000, SERVER, 443, one, T0 + i * 1e-3)
    quic = insp._quic
    assert quic.decrypted == MAX_OPENED_INITIALS
    assert quic.skipped == 300


def test_rn_dissect_counts_what_it_skipped_in_dstats() -> None:
    frames = list(flood_frames(3000, seed=7))
    d = Dissector()
    recs: list[Any] = [F.hdr(1)] + [["pkt", T0 + i / 25_000, len(f), f] for i, f in enumerate(frames)]
    out = d.process(recs) + d.finish()
    stats = out[-1]
    assert stats["t"] == "dstats"
    quic = d.inspector._quic if d.inspector is not None else None
    assert quic is not None and stats["quic_skipped"] == quic.skipped == 3000 - quic.decrypted
    assert quic.decrypted <= INITIAL_BURST + INITIAL_RATE * 3000 / 25_000 + 1
