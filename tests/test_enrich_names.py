"""Hostnames learned from DNS answers (the name asked for), tolerant parsing, escaping."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rustnet.enrich.names import VIA_DNS, VIA_PTR, HostNames, resolved_pairs


def test_resolved_forms() -> None:
    assert resolved_pairs(["93.184.216.34 example.org"]) == [("93.184.216.34", "example.org")]
    assert resolved_pairs(["2001:db8::1 x.example", "::ffff:10.0.0.9 y.example"]) == [
        ("2001:db8::1", "x.example"),
        ("10.0.0.9", "y.example"),
    ]
    # Not "address name": skipped (a name first, three words, junk, over-long items).
    assert resolved_pairs(["x.example 1.2.3.4", "1.2.3.4 a b", None, 5, ["x"], "1.2.3.4 " + "x" * 600]) == []
    assert resolved_pairs(None) == [] and resolved_pairs("10.1.1.1 x") == []


def test_learns_only_from_resolved_never_from_bare_answers() -> None:
    names = HostNames()
    # dns_answers alone (a response that answered no query seen) names nothing.
    assert names.learn_from({"dns_query": "update.microsoft.com", "dns_answers": ["x A 10.1.2.3"]}) == 0
    assert names.lookup("10.1.2.3") is None
    assert names.learn_from({"dns_resolved": ["10.1.2.3 www.example.org."]}) == 1
    assert names.lookup("10.1.2.3") == ("www.example.org", VIA_DNS)
    assert names.name_for("10.1.2.3") == "www.example.org"
    assert names.name_for("10.1.2.4") is None  # no reverse DNS unless asked
    assert names.learn_from({"dns_resolved": []}) == 0


def test_names_from_packets_are_escaped_and_bounded() -> None:
    names = HostNames(max_entries=3)
    names.learn_from({"dns_resolved": ["10.0.0.1 evil\x1b[2J.example"]})
    assert names.name_for("10.0.0.1") == "evil\\x1b[2J.example"
    for i in range(10):
        names.learn(f"10.0.1.{i}", "n")
    assert names.name_for("10.0.0.1") is None and names.name_for("10.0.1.9") == "n"


def test_reverse_dns_is_off_by_default_and_never_blocks_when_on(monkeypatch: pytest.MonkeyPatch) -> None:
    off = HostNames()
    assert off.name_for("127.0.0.1") is None and off.resolver is None  # no lookups, no threads
    # The system resolver held shut until the first answer was asked for: a lookup made in the
    # caller's thread would wait here, and come back with the name instead of None.
    gate, callers = threading.Event(), []
    real_gethostbyaddr = socket.gethostbyaddr

    def held_gethostbyaddr(*args: Any) -> Any:
        callers.append(threading.current_thread())
        gate.wait(10)
        return real_gethostbyaddr(*args)

    monkeypatch.setattr(socket, "gethostbyaddr", held_gethostbyaddr)
    on = HostNames(reverse_dns=True)
    assert on.name_for("127.0.0.1") is None  # queued; the answer comes later
    gate.set()
    deadline = time.monotonic() + 10
    name = None
    while name is None and time.monotonic() < deadline:
        time.sleep(0.01)
        name = on.name_for("127.0.0.1")  # /etc/hosts: no traffic
    assert name == real_gethostbyaddr("127.0.0.1")[0]
    assert callers and threading.main_thread() not in callers  # asked in the resolver's thread
    assert on.lookup("127.0.0.1") == (name, VIA_PTR)
    on.learn("127.0.0.1", "learned.example")
    assert on.lookup("127.0.0.1") == ("learned.example", VIA_DNS)  # names seen on the wire win
    assert on.name_for("") is None and on.name_for(None) is None


def _slow_as_ip(token: str) -> str | None:
    """The reference: ipaddress alone (what names._as_ip did before its IPv4 fast path)."""
    import ipaddress

    try:
        addr = ipaddress.ip_address(token.strip().rstrip(",;"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
        st.tuples(
            *[st.sampled_from(["0", "00", "01", "1", "10", "255", "256", "099", " 7", "+1", "1e1"])] * 4
        ).map(".".join),
        st.text(alphabet="0123456789.:abcdefABCDEF ,;x", max_size=24),
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: a.exploded),
    )
)
def test_address_fast_path_agrees_with_ipaddress(token: str) -> None:
    from rustnet.enrich.names import _as_ip

    assert _as_ip(token) == _slow_as_ip(token)


def test_the_resolver_queue_bounds_and_its_answers_without_a_dns_server() -> None:
    """ReverseResolver with a lookup function of the test's: a full queue refuses new addresses
    at once (counted), never one already waiting; names come back from the cache once found,
    and an expired answer is asked for again."""
    from rustnet.enrich.rdns import ReverseResolver

    release = threading.Event()
    asked: list[str] = []

    def resolve(ip: str) -> str | None:
        asked.append(ip)
        release.wait(10)
        return f"host-{ip.replace('.', '-')}.example"

    r = ReverseResolver(workers=1, rate=1000.0, burst=1000, queue_size=3, ttl=0.3, resolve=resolve)
    try:
        addrs = [f"10.9.0.{i}" for i in range(1, 8)]
        assert r.lookup(addrs[0]) is None
        deadline = time.monotonic() + 5
        while not asked and time.monotonic() < deadline:
            time.sleep(0.01)
        for a in addrs[1:4]:  # the worker is busy with the first: three waiting fill the queue
            assert r.lookup(a) is None
        assert asked == [addrs[0]] and r.refused == 0
        assert r.lookup(addrs[2]) is None and r.refused == 0  # waiting already: not a refusal
        assert r.lookup(addrs[5]) is None and r.lookup(addrs[6]) is None
        assert r.refused == 2
        release.set()
        while len(asked) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        while r.lookup(addrs[3]) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r.lookup(a) for a in addrs[:4]] == [f"host-10-9-0-{i}.example" for i in range(1, 5)]
        assert r.lookup(addrs[5]) is None  # refused before: asked now that there is room
        time.sleep(0.35)  # the answers expire: asked again
        assert r.lookup(addrs[0]) is None
        while asked.count(addrs[0]) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert asked.count(addrs[0]) == 2
    finally:
        release.set()
        r.close()
