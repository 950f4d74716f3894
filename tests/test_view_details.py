"""Details as RustNet's cards: human labels and units from the field table, sides as Local and
Remote, one Application card per protocol, fixed rows, the selected connection's rx/tx charts.
Expectations are written out by hand."""

from __future__ import annotations

import re

import pyte
from rustnet.view import keys
from rustnet.view.connrates import KEEP, ConnRates
from rustnet.view.model import ConnTable
from rustnet.view.state import ViewState

from tests.test_view_render import draw
from tests.tui.records import T0, conn, header


def details(
    recs: list[dict], w: int = 160, h: int = 80, live: bool = False
) -> tuple[pyte.Screen, str, ViewState]:
    t = ConnTable()
    t.ingest([dict(header(), live=live), *recs])
    s = ViewState(t)
    keys.handle(s, "KEY_ENTER")
    screen, out = draw(s, w, h)
    return screen, "\n".join(screen.display), s


def row(body: str, label: str) -> str:
    """The value beside ``label`` (the first pane that has it), below the table strip."""
    body = body[body.index("▎") :]
    m = re.search(rf"(?m)(?:^|  ){re.escape(label)} +(\S.*?)(?:  |$)", body)
    assert m, f"{label!r} not in\n{body}"
    return m.group(1).strip()


TLS = conn(
    1,
    app="TLS",
    sni="github.com",
    alpn=["h2", "http/1.1"],
    tls_version="TLS 1.3",
    process="firefox",
    pid=4242,
    ppid=4200,
    user="alice",
    group="staff",
    exe="/usr/bin/firefox",
    ancestors=["systemd/1", "sshd/800", "bash/4200"],
    owner_via="exec-event",
    rtt_ms=12.34,
    retransmits=2,
    out_of_order=0,
    bytes_src=4096,
    bytes_dst=90_000,
    packets_src=30,
    packets_dst=70,
    rate_dst=5000.0,
    service="https",
    hostname_dst="lb.github.com",
    hostname_dst_via="ptr",
    mac_dst="00:00:0c:12:34:56",
    vendor_dst="Cisco Systems, Inc",
    gateway="dst",
    vlan=[100],
    final=True,
    end="eof",
    x_unknown="not declared",
)


def test_cards_show_human_labels_and_units() -> None:
    _, body, _ = details([TLS])
    for title in ("Connection", "Network Context", "Attribution", "Application: TLS", "Transport Health"):
        assert re.search(rf"(?m)(^|  ){re.escape(title)}\s", body), title
    assert row(body, "Protocol") == "TCP"
    assert row(body, "Local Address") == "10.0.0.2:40001"
    assert row(body, "Remote Address") == "192.0.2.10:443 (gateway)"
    assert row(body, "Scope") == "DOCUMENTATION"
    assert row(body, "Service") == "https"
    assert row(body, "Remote Hostname") == "lb.github.com" and row(body, "Local Hostname") == "-"
    assert row(body, "Remote MAC") == "00:00:0c:12:34:56 (Cisco Systems, Inc)"
    assert row(body, "VLAN") == "100"
    assert row(body, "SNI") == "github.com"
    assert row(body, "ALPN") == "h2, http/1.1"
    assert row(body, "TLS Version") == "TLS 1.3"
    assert row(body, "RTT") == "12.3ms"
    assert row(body, "TCP Retransmits") == "2" and row(body, "Out-of-Order Packets") == "0"
    assert row(body, "PID") == "4242" and row(body, "PPID") == "4200"
    assert row(body, "User") == "alice:staff"
    assert row(body, "Process Tree") == "systemd/1 > sshd/800 > bash/4200"
    assert row(body, "Match") == "exact tuple, process from a kernel exec event"
    # Traffic: received is what the remote end sent (bytes_dst here), with units.
    assert "↓ RX 4.88 KB/s" in body and "Total 87.89 KB  ·  70 packets" in body
    assert "↑ TX -" in body and "Total 4.00 KB  ·  30 packets" in body


def test_no_raw_key_dump() -> None:
    _, body, _ = details([TLS])
    for raw in (
        "True",
        "False",
        "['",
        "final",
        "hostname_dst",
        "rtt_ms",
        "local_side",
        "x_unknown",
        "owner_via",
    ):
        assert raw not in body, raw


def test_the_local_end_is_the_local_side_not_the_source() -> None:
    rec = conn(
        2,
        src="198.51.100.7",
        sport=51515,
        dst="10.0.0.5",
        dport=22,
        local_side="dst",
        hostname_src="scanner.example",
        hostname_src_via="dns",
        mac_dst="02:00:00:00:00:01",
        bytes_src=100,
        bytes_dst=7000,
        packets_src=3,
        packets_dst=4,
    )
    _, body, _ = details([rec])
    assert row(body, "Local Address") == "10.0.0.5:22"
    assert row(body, "Remote Address") == "198.51.100.7:51515"
    assert row(body, "Scope") == "DOCUMENTATION"
    assert row(body, "Remote Hostname") == "~scanner.example (from DNS seen on the wire)"
    assert row(body, "Local MAC") == "02:00:00:00:00:01" and row(body, "Remote MAC") == "-"
    assert "Total 100 B  ·  3 packets" in body  # received: what the source (remote) sent


def test_each_application_has_its_card() -> None:
    cases = [
        (
            conn(1, proto="udp", dport=5353, app="MDNS", dns_query="printer.local", dns_qtype="A"),
            "Application: MDNS",
            "DNS Query",
            "printer.local",
        ),
        (
            conn(1, proto="udp", app="QUIC", sni="quic.example", quic_version="0x00000001"),
            "Application: QUIC",
            "SNI",
            "quic.example",
        ),
        (
            conn(1, app="SSH", ssh_server="SSH-2.0-OpenSSH_9.2p1"),
            "Application: SSH",
            "Server Software",
            "SSH-2.0-OpenSSH_9.2p1",
        ),
        (
            conn(1, proto="arp", sha="02:00:00:00:00:02", state="ARP_REQUEST"),
            "Application: ARP",
            "Sender MAC",
            "02:00:00:00:00:02",
        ),
        (
            conn(1, app="HTTP", http_host="intranet.test", http_status=404),
            "Application: HTTP",
            "HTTP Status",
            "404",
        ),
        (
            conn(1, proto="udp", app="NetBIOS-NS", netbios_name="FILESRV"),
            "Application: NetBIOS-NS",
            "Name",
            "FILESRV",
        ),
    ]
    for rec, title, label, value in cases:
        _, body, _ = details([rec])
        assert title in body, (title, body)
        assert row(body, label) == value, (title, label)
    _, body, _ = details([conn(1, proto="udp", dport=9999, state="UDP_ACTIVE")])
    assert row(body, "Detected") == "-"
    assert "No transport metrics for this protocol" in body
    _, body, _ = details([conn(1, proto="udp", app="QUIC", rtt_ms=30.0)])
    assert row(body, "RTT") == "30.0ms" and "Loss counters are encrypted in QUIC" in body


def test_rows_do_not_move_between_connections_of_one_protocol() -> None:
    bare = conn(1, app="TLS")
    a, _, _ = details([TLS])
    b, _, _ = details([bare])
    # Every label sits on the same line whether or not the connection has the value.
    end = next(y for y in range(80) if "↓ RX" in a.display[y])
    assert "↓ RX" in b.display[end]
    labels_a = [ln[:22] for ln in a.display[6:end]]
    labels_b = [ln[:22] for ln in b.display[6:end]]
    assert labels_a == labels_b
    right_a = [ln[71:93] for ln in a.display[6:end]]
    right_b = [ln[71:93] for ln in b.display[6:end]]
    assert right_a == right_b


def test_hostile_values_stay_escaped_in_the_cards() -> None:
    evil = conn(
        1, app="TLS", sni="\u202egro.elpmaxe\x1b]0;pwned\x07", process="x\x1b[2Jy", ancestors=["a\x1b[1mb"]
    )
    screen, out, _ = details([evil])
    assert (
        "\x1b]0;pwned" not in out and "\u202e" not in out and "\x1b[2J" not in out and "\x1b[1mb" not in out
    )
    body = "\n".join(screen.display)
    assert row(body, "SNI") == "\\u202egro.elpmaxe\\x1b]0;pwned\\x07"
    assert row(body, "Process Tree") == "a\\x1b[1mb"


def test_history_is_marked_closed() -> None:
    gone = conn(1, final=True, end="timeout", rate_dst=4096.0, last_seen=T0 + 10)
    _, body, _ = details([gone, conn(2, last_seen=T0 + 310, bytes=0)])
    assert "▎ Historic · ? → 192.0.2.10:443" in body
    assert row(body, "Status") == "Closed (5m ago)"
    assert row(body, "Ended By") == "timeout"
    assert "↓ RX n/a" in body


def test_narrow_details_stack_the_cards_and_list_traffic_as_rows() -> None:
    _, body, _ = details([TLS], w=90, h=120)
    for label, value in (
        ("Bytes Sent", "4.00 KB"),
        ("Bytes Received", "87.89 KB"),
        ("Packets Sent", "30"),
        ("Packets Received", "70"),
        ("Current Rate (In)", "4.88 KB/s"),
        ("Current Rate (Out)", "-"),
    ):
        assert row(body, label) == value, label
    assert body.index("Attribution") < body.index("Application: TLS") < body.index("Transport Health")


def test_the_selected_connection_has_rx_tx_charts_from_when_it_was_selected() -> None:
    t = ConnTable()
    t.ingest([dict(header(), live=True)])
    s = ViewState(t)
    base = conn(1, app="TLS", process="a", bytes=10**9)
    other = conn(2, process="b", bytes=1)
    # 20 s of stream time: rx ramps up, tx stays 0.
    for i in range(40):
        ts = T0 + i * 0.5
        t.ingest([dict(base, last_seen=ts, rate_dst=1000.0 * i, rate_src=0.0), dict(other, last_seen=ts)])
        draw(s, 160, 60)  # a frame per record, on the Overview: the selection's rates are noted
    assert len(s.conn_rates.rx) == 40 and s.conn_rates.rx[-1] == 39_000.0 and not any(s.conn_rates.tx)
    keys.handle(s, "KEY_ENTER")
    screen, _ = draw(s, 160, 60)
    rx_x = next(y for y in range(60) if "↓ RX" in screen.display[y])
    chart = [screen.display[y][:78] for y in range(rx_x + 2, rx_x + 6)]
    assert all(re.search("[\u2801-\u28ff]", line) for line in chart[1:]), chart  # a 4-row braille chart
    tx_chart = [screen.display[y][80:] for y in range(rx_x + 2, rx_x + 6)]
    assert not any(re.search("[\u2801-\u28ff]", line) for line in tx_chart), tx_chart  # tx: nothing
    assert "peak 38.09 KB/s" in screen.display[rx_x]
    # Another connection selected: its own series, from now.
    keys.handle(s, "KEY_ESCAPE")
    keys.handle(s, "j")
    draw(s, 160, 60)
    assert s.conn_rates.conn_id == 2 and len(s.conn_rates.rx) == 1


def test_rate_history_is_bounded_and_fills_gaps() -> None:
    r = ConnRates()
    t = ConnTable()
    t.ingest([header(), conn(1, rate_dst=100.0)])
    one = t.rows[1]
    r.observe(one, T0)
    r.observe(one, T0 + 2.0)  # 2 s later: 3 held samples, then this one
    assert list(r.rx) == [100.0] * 5
    r.observe(one, T0 + 10_000.0)
    assert len(r.rx) == KEEP
    r.observe(one, T0)  # time went back (a concatenated recording): a new series
    assert len(r.rx) == 1


def test_transport_health_shows_the_measurements_that_apply() -> None:
    tcp = dict(TLS, rtt_kind="tcp", rtt_initial_ms=20.55, dup_acks=4, fast_retransmits=1)
    _, body, _ = details([tcp])
    assert row(body, "RTT From") == "TCP data and its ACK (live)"
    assert row(body, "Initial RTT") == "20.6ms"
    assert row(body, "Duplicate ACKs") == "4" and row(body, "Fast Retransmits") == "1"
    assert "DNS Response Time" not in body  # not a TCP measurement
    dns = conn(1, proto="udp", app="DNS", dns_query="x.example", dns_response_ms=4.25, state="DNS_RESPONSE")
    _, body, _ = details([dns])
    assert row(body, "DNS Response Time") == "4.2ms" or row(body, "DNS Response Time") == "4.3ms"
    assert "Duplicate ACKs" not in body and "TCP Retransmits" not in body


def test_clear_all_forgets_the_chart() -> None:
    t = ConnTable()
    t.ingest([dict(header(), live=True)])
    s = ViewState(t)
    for i in range(10):
        t.ingest([conn(1, last_seen=T0 + i * 0.5, rate_dst=1000.0)])
        draw(s, 160, 40)
    assert len(s.conn_rates.rx) == 10
    keys.handle(s, "x")
    keys.handle(s, "x")
    assert not s.conn_rates.rx and s.conn_rates.conn_id is None
