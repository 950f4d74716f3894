"""SSH identification lines and binary packets (RFC 4253 §4.2, §6) from hand-built bytes, at
the edges of every limit: line length, lines before the identification, packet length, and
packets split over segments at every offset."""

from __future__ import annotations

import pytest
from rustnet.dissect import ssh
from rustnet.dissect.errors import DissectError

from tests.dpi_samples import ssh_packet

KEXINIT, NEWKEYS, KEXDH_INIT = 20, 21, 30


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (b"", None),
        (b"S", None),
        (b"SSH", None),
        (b"SX", False),
        (b"X", False),
        (b"SSH-", True),
        (b"SSH-2", True),
    ],
)
def test_banner_start(data: bytes, want: bool | None) -> None:
    assert ssh.banner_start(data) is want


def test_identification_line_length_is_255_with_cr_lf() -> None:
    head = b"SSH-2.0-"
    for total, ok in ((255, True), (256, False)):
        line = head + b"v" * (total - len(head) - 2) + b"\r\n"
        assert len(line) == total
        if ok:
            assert ssh.parse_banner(line) == (line[:-2].decode(), total)
        else:
            with pytest.raises(DissectError):
                ssh.parse_banner(line)
    # Without its end yet: 254 bytes may still become a line (with an LF), 255 cannot.
    assert ssh.parse_banner(head + b"v" * (254 - len(head))) is None
    with pytest.raises(DissectError):
        ssh.parse_banner(head + b"v" * (255 - len(head)))
    # The same after lines a server sent first: the limit is per line.
    pre = b"x" * 200 + b"\r\n"
    assert ssh.parse_banner(pre + head + b"v" * (254 - len(head)), server=True) is None
    with pytest.raises(DissectError):
        ssh.parse_banner(pre + head + b"v" * (255 - len(head)), server=True)
    # A bare LF ends a line too: 254 characters and the LF are 255 bytes.
    line = head + b"v" * (254 - len(head)) + b"\n"
    assert ssh.parse_banner(line) == (line[:-1].decode(), 255)
    with pytest.raises(DissectError):
        ssh.parse_banner(head + b"v" * (255 - len(head)) + b"\n")


def test_a_line_feed_alone_ends_the_line() -> None:
    assert ssh.parse_banner(b"SSH-2.0-x\nrest") == ("SSH-2.0-x", 10)


@pytest.mark.parametrize(("lines", "ok"), [(0, True), (1, True), (50, True), (1023, True), (1024, False)])
def test_up_to_1023_lines_before_a_servers_identification(lines: int, ok: bool) -> None:
    # OpenSSH (kex.c, kex_exchange_identification) reads the identification among the first
    # SSH_MAX_PRE_BANNER_LINES = 1024 lines: 1023 may come before it.
    data = b"".join(b"line %d\r\n" % i for i in range(lines)) + b"SSH-2.0-srv\r\n"
    if ok:
        assert ssh.parse_banner(data, server=True) == ("SSH-2.0-srv", len(data))
        assert ssh.skip_pre_lines(data, 0) == (len(data) - 13, lines)
    else:
        with pytest.raises(DissectError):
            ssh.parse_banner(data, server=True)


def test_a_line_before_the_identification_is_up_to_8192_bytes() -> None:
    # OpenSSH's SSH_MAX_BANNER_LEN: 8192 bytes before CR LF; a NUL or a CR not before LF ends it.
    ident = b"SSH-2.0-srv\r\n"
    for size, ok in ((8192, True), (8193, False)):
        data = b"x" * size + b"\r\n" + ident
        if ok:
            assert ssh.parse_banner(data, server=True) == ("SSH-2.0-srv", len(data))
        else:
            with pytest.raises(DissectError):
                ssh.parse_banner(data, server=True)
    assert ssh.parse_banner(b"x" * 8193, server=True) is None  # with CR LF still to come it is 8195
    with pytest.raises(DissectError):
        ssh.parse_banner(b"x" * 8194, server=True)
    for bad in (b"a\0b\r\n", b"a\rb\r\n"):
        with pytest.raises(DissectError):
            ssh.parse_banner(bad + ident, server=True)
    # Counting goes on across calls: the lines already skipped count.
    assert ssh.skip_pre_lines(b"a\r\nb\r\nSS", 1021) == (6, 1023)
    with pytest.raises(DissectError):
        ssh.skip_pre_lines(b"a\r\nb\r\n", 1022)


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        (b"SSH-1-x", True),  # the shortest: protoversion "1", softwareversion "x"
        (b"SSH-2.0-", True),
        (b"SSH-1-", False),  # no softwareversion
        (b"SSH-2.0", False),  # no second dash
        (b"SSH-20x", False),
        (b"SSH-", False),
    ],
)
def test_identification_needs_two_dashes_and_three_characters(line: bytes, ok: bool) -> None:
    if ok:
        assert ssh.parse_banner(line + b"\r\n") == (line.decode(), len(line) + 2)
    else:
        with pytest.raises(DissectError):
            ssh.parse_banner(line + b"\r\n")


def test_banner_text_is_cut_at_255_characters_once_escaped() -> None:
    line = b"SSH-2.0-" + b"\x01" * 70  # 78 bytes, 288 characters escaped
    banner, used = ssh.parse_banner(line + b"\r\n") or ("", 0)
    assert used == len(line) + 2
    assert banner == "SSH-2.0-" + "\\x01" * 61 + "\u2026"  # 8 + 244 characters, never half an escape


# --- binary packets ---------------------------------------------------------------------------
def walk(*segments: bytes) -> ssh.PacketWalker:
    w = ssh.PacketWalker()
    for seg in segments:
        w.feed(seg)
    return w


def test_kexinit_then_newkeys() -> None:
    w = walk(ssh_packet(KEXINIT, bytes(100)))
    assert (w.saw_kexinit, w.saw_newkeys, w.encrypted) == (True, False, 0)
    w.feed(ssh_packet(KEXDH_INIT, bytes(32)) + ssh_packet(NEWKEYS))
    assert (w.saw_kexinit, w.saw_newkeys, w.encrypted) == (True, True, 0)  # nothing after it yet
    for n in range(1, 4):
        w.feed(b"\x99" * 50)  # encrypted: only counted
        assert w.encrypted == n


def test_bytes_after_newkeys_in_its_segment_are_the_first_encrypted_packet() -> None:
    w = walk(ssh_packet(NEWKEYS) + b"\x01")
    assert w.saw_newkeys and w.encrypted == 1
    assert walk(ssh_packet(NEWKEYS)).encrypted == 0


def test_a_message_type_is_read_only_at_a_packet_start() -> None:
    # A KEXDH_INIT whose body is full of 20s and 21s, then a KEXINIT.
    body = bytes([KEXINIT, NEWKEYS]) * 200
    w = walk(ssh_packet(KEXDH_INIT, body))
    assert not w.saw_kexinit and not w.saw_newkeys
    w.feed(ssh_packet(KEXINIT, bytes(10)))
    assert w.saw_kexinit and not w.saw_newkeys


@pytest.mark.parametrize("size", [1, 2, 5, 6, 7, 100, 999, 5000])
def test_packets_split_at_every_size(size: int) -> None:
    """A long KEXDH_INIT packet (its body holds NEWKEYS bytes), a KEXINIT, then a NEWKEYS, fed
    in pieces of ``size`` bytes: bodies are skipped by counting, each header read once."""
    stream = ssh_packet(KEXDH_INIT, bytes([NEWKEYS]) * 3000)
    kexinit_head = len(stream) + 6  # a packet's type is known once its first six bytes are
    stream += ssh_packet(KEXINIT, bytes(40))
    newkeys_head = len(stream) + 6
    stream += ssh_packet(NEWKEYS)
    w = ssh.PacketWalker()
    for start in range(0, len(stream), size):
        piece = stream[start : start + size]
        w.feed(piece)
        done = start + len(piece)
        assert w.saw_kexinit is (done >= kexinit_head), done
        assert w.saw_newkeys is (done >= newkeys_head), done
    assert w.encrypted == 0  # the NEWKEYS packet's own tail, however split, is not encrypted
    w.feed(b"\x99" * 30)
    assert w.encrypted == 1


@pytest.mark.parametrize(
    ("length", "ok"), [(4, False), (5, True), (256 * 1024, True), (256 * 1024 + 1, False)]
)
def test_packet_length_limits(length: int, ok: bool) -> None:
    # RFC 4253 §6: packet_length counts padding_length, payload and padding (at least 4 bytes
    # of padding, so 5 with the message type); we accept up to 256 KiB.
    head = length.to_bytes(4, "big") + b"\x04" + bytes([KEXINIT])
    if ok:
        assert walk(head).saw_kexinit
    else:
        with pytest.raises(DissectError):
            walk(head)


def test_a_header_cut_before_its_sixth_byte_waits() -> None:
    packet = ssh_packet(KEXINIT, bytes(10))
    for cut in range(6):
        w = walk(packet[:cut])
        assert not w.saw_kexinit
        w.feed(packet[cut:])
        assert w.saw_kexinit, cut


def test_newkeys_tail_in_later_segments() -> None:
    newkeys = ssh_packet(NEWKEYS)  # 4 + 6 bytes: the type is known after 6, 4 bytes of padding follow
    # The tail alone, exactly: not encrypted; then every segment is one encrypted packet.
    w = walk(newkeys[:6], newkeys[6:])
    assert (w.saw_newkeys, w.encrypted) == (True, 0)
    for n in range(1, 4):
        w.feed(b"\x99")
        assert w.encrypted == n
    # The tail and encrypted bytes in one segment: one packet, and the tail is not looked for again.
    w = walk(newkeys[:6], newkeys[6:] + b"\x99" * 10)
    assert w.encrypted == 1
    w.feed(b"\x99")
    assert w.encrypted == 2
    # The tail a byte at a time.
    w = walk(newkeys[:6], *[newkeys[i : i + 1] for i in range(6, len(newkeys))])
    assert w.encrypted == 0
    w.feed(b"\x99")
    assert w.encrypted == 1


def test_a_server_may_send_empty_lines_first_a_client_may_not() -> None:
    assert ssh.parse_banner(b"\nSSH-2.0-x\r\n", server=True) == ("SSH-2.0-x", 12)
    assert ssh.parse_banner(b"\r\n\nSSH-2.0-x\n", server=True) == ("SSH-2.0-x", 13)
    with pytest.raises(DissectError):
        ssh.parse_banner(b"hello\r\nSSH-2.0-x\r\n")  # a client's (the default)
