"""Hostnames learned from DNS answers (the name asked for), tolerant parsing, escaping."""

from __future__ import annotations

import socket
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from rustnet.enrich.names import HostNames, answer_addresses


def test_answer_forms() -> None:
    assert answer_addresses(["example.org A 93.184.216.34"]) == ["93.184.216.34"]
    assert answer_addresses(["www.x CNAME cdn.y", "cdn.y AAAA 2001:db8::1", "cdn.y A 10.0.0.9"]) == [
        "2001:db8::1",
        "10.0.0.9",
    ]
    assert answer_addresses(["10.0.0.7", {"data": "10.0.0.8"}, {"type": "A", "addr": "::ffff:10.0.0.9"}]) == [
        "10.0.0.7",
        "10.0.0.8",
        "10.0.0.9",
    ]
    # PTR and TXT values, or names that look like addresses, are not learned.
    assert answer_addresses(["4.3.2.1.in-addr.arpa PTR 1.2.3.4", "x TXT 1.2.3.4"]) == []
    assert answer_addresses([None, 5, ["x"], "x" * 1000, {"data": 7}]) == []
    assert answer_addresses(None) == [] and answer_addresses("10.1.1.1") == ["10.1.1.1"]


def test_learns_the_name_the_client_asked_for() -> None:
    names = HostNames()
    n = names.learn_from(
        {
            "dns_query": "www.example.org.",
            "dns_answers": ["www.example.org CNAME e1.cdn.net", "e1.cdn.net A 10.1.2.3"],
        }
    )
    assert n == 1
    assert names.name_for("10.1.2.3") == "www.example.org"
    assert names.name_for("10.1.2.4") is None  # no reverse DNS unless asked
    assert names.learn_from({"dns_query": "q", "dns_answers": []}) == 0
    assert names.learn_from({"dns_answers": ["q A 1.1.1.1"]}) == 0


def test_names_from_packets_are_escaped_and_bounded() -> None:
    names = HostNames(max_entries=3)
    names.learn_from({"dns_query": "evil\x1b[2J.example", "dns_answers": ["x A 10.0.0.1"]})
    assert names.name_for("10.0.0.1") == "evil\\x1b[2J.example"
    for i in range(10):
        names.learn(f"10.0.1.{i}", "n")
    assert names.name_for("10.0.0.1") is None and names.name_for("10.0.1.9") == "n"


def test_reverse_dns_is_off_by_default_and_never_blocks_when_on() -> None:
    off = HostNames()
    assert off.name_for("127.0.0.1") is None and off._queue is None  # no lookups, no threads
    on = HostNames(reverse_dns=True)
    t0 = time.perf_counter()
    assert on.name_for("127.0.0.1") is None  # queued; the answer comes later
    assert time.perf_counter() - t0 < 0.05
    deadline = time.monotonic() + 10
    name = None
    while name is None and time.monotonic() < deadline:
        time.sleep(0.01)
        name = on.name_for("127.0.0.1")  # /etc/hosts: no traffic
    assert name == socket.gethostbyaddr("127.0.0.1")[0]
    on.learn("127.0.0.1", "learned.example")
    assert on.name_for("127.0.0.1") == "learned.example"  # names seen on the wire win
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
