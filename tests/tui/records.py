"""Connection records for the viewer's tests, written as real record streams."""

from __future__ import annotations

import os
from typing import Any

from rustnet.stream import RecordWriter

T0 = 1_700_000_000.0


def conn(cid: int, **fields: Any) -> dict[str, Any]:
    """A plausible connection record; ``fields`` override or add."""
    rec: dict[str, Any] = {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": f"10.0.0.{cid % 250 + 1}",
        "sport": 40000 + cid,
        "dst": "192.0.2.10",
        "dport": 443,
        "state": "ESTABLISHED",
        "packets": 10,
        "bytes": 1000 + cid,
        "packets_src": 5,
        "packets_dst": 5,
        "bytes_src": 400,
        "bytes_dst": 600 + cid,
        "first_seen": T0 + cid,
        "last_seen": T0 + cid + 1,
        "rate_src": 0.0,
        "rate_dst": 0.0,
    }
    rec.update(fields)
    return {k: v for k, v in rec.items() if v is not None}


def header(source: str = "eth-test") -> dict[str, Any]:
    return {
        "t": "hdr",
        "v": 1,
        "producer": "rn-track 0.1.0",
        "linktype": 1,
        "source": source,
        "live": False,
        "snaplen": 262144,
        "start": T0,
        "stages": ["rn-capture", "rn-track"],
    }


def sample() -> list[dict[str, Any]]:
    """A small mixed table: TLS, HTTP, DNS, SSH, QUIC, loopback, a closed one."""
    return [
        conn(
            1,
            dport=443,
            app="TLS",
            sni="github.com",
            process="firefox",
            pid=4242,
            bytes=90_000,
            rate_dst=5000.0,
            service="https",
            geo_country="US",
            geo_country_name="United States",
            geo_city="San Francisco",
            geo_asn=36459,
            geo_as_org="GITHUB",
        ),
        conn(2, dport=8443, app="TLS", sni="api.example.org", process="curl", pid=77, bytes=5_000),
        conn(
            3,
            dport=80,
            app="HTTP",
            http_host="intranet.test",
            http_method="GET",
            http_path="/x",
            process="wget",
            pid=88,
            service="http",
        ),
        conn(
            4,
            proto="udp",
            dport=53,
            app="DNS",
            dns_query="google.com",
            state="DNS_RESPONSE",
            dst="192.0.2.53",
            process="systemd-resolved",
            pid=1,
            service="domain",
        ),
        conn(
            5,
            dport=22,
            app="SSH",
            ssh_server="SSH-2.0-OpenSSH_9.2p1 Debian-2",
            ssh_client="SSH-2.0-OpenSSH_9.6",
            process="ssh",
            pid=99,
            state="ESTABLISHED",
            service="ssh",
            bytes=300,
            gateway="dst",
            mac_dst="00:00:0c:12:34:56",
            vendor_dst="Cisco Systems, Inc",
        ),
        conn(
            6,
            src="127.0.0.1",
            dst="127.0.0.1",
            sport=50000,
            dport=6379,
            process="redis-cli",
            pid=555,
            state="TIME_WAIT",
        ),
        conn(
            7,
            proto="udp",
            dport=443,
            app="QUIC",
            sni="quic.example.net",
            state="QUIC_CONNECTED",
            quic_version="0x00000001",
            hostname_dst="edge.example.net",
            geo_country="DE",
            geo_country_name="Germany",
            geo_city="Frankfurt am Main",
            geo_asn=13335,
            geo_as_org="CLOUDFLARENET",
        ),
    ]


def write_stream(path: str, recs: list[dict[str, Any]], fmt: str = "msgpack") -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        w = RecordWriter(fd, fmt)
        w.write(header())
        w.write_many(recs)
        w.close()
    finally:
        os.close(fd)
