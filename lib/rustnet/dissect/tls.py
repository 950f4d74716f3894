"""TLS handshake: what a ClientHello offers and what the ServerHello picked.

Only the first handshake message of each direction is read, from the start of the TCP
byte stream: records (RFC 8446 §5.1) are unwrapped and their handshake bytes joined, so a
ClientHello split over several TCP segments or several records is found once enough bytes
are there. Everything after the hellos is encrypted or uninteresting to a monitor.

    hello = client_hello_from_stream(stream)   # ClientHello, None (need more) or DissectError
    hello = parse_client_hello(body)           # a bare handshake body (QUIC CRYPTO frames too)

Names are escaped for display (:mod:`rustnet.dissect.safe_text`); GREASE values (RFC 8701)
are dropped from the offered versions.
"""

from __future__ import annotations

import struct
from typing import Any, Final, NamedTuple

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

CONTENT_ALERT: Final = 21
CONTENT_HANDSHAKE: Final = 22
HS_CLIENT_HELLO: Final = 1
HS_SERVER_HELLO: Final = 2
RECORD_HEADER_LEN: Final = 5
MAX_RECORD_LEN: Final = 16384 + 2048  # TLSCiphertext limit, RFC 8446 §5.2

EXT_SERVER_NAME: Final = 0
EXT_ALPN: Final = 16
EXT_SUPPORTED_VERSIONS: Final = 43
EXT_ECH: Final = 0xFE0D  # encrypted_client_hello (draft-ietf-tls-esni-13 and later)
EXT_ESNI: Final = 0xFFCE  # the older encrypted_server_name
SNI_HOST_NAME: Final = 0

MAX_ALPN: Final = 8  # protocols kept from the offer
MAX_VERSIONS: Final = 8

# NamedTuple's own __new__ is a Python function; building the tuple directly costs a third
# of it, on every hello, request and DNS message. Fields are passed in declaration order.
_make: Final = tuple.__new__

VERSION_NAMES: Final = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
}

# IANA TLS cipher suite registry names of the suites seen in practice; others are shown as hex.
CIPHER_NAMES: Final = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
}


class ClientHello(NamedTuple):
    """The fields of a ClientHello a monitor shows."""

    legacy_version: int
    sni: str | None  # host_name from server_name, escaped; the outer name under ECH
    alpn: tuple[str, ...]  # offered protocols, escaped, at most MAX_ALPN
    versions: tuple[int, ...]  # supported_versions without GREASE, at most MAX_VERSIONS
    ech: bool  # encrypted_client_hello (or the older ESNI) offered

    def fields(self, out: dict[str, Any] | None = None) -> dict[str, Any]:
        """The connection-record fields this hello fills (TLS over TCP and QUIC alike).

        Added to ``out`` when given (saves DPI a dict and a merge), else to a new dict.
        """
        if out is None:
            out = {}
        if self.sni:
            out["sni"] = self.sni
        if self.alpn:
            out["alpn"] = list(self.alpn)
        if self.versions:
            # The common names without a version_name call; a plain loop is cheaper than a
            # comprehension (its function object) for the usual one to three versions.
            names = VERSION_NAMES
            offered = out["tls_versions_offered"] = []
            for v in self.versions:
                offered.append(names.get(v) or version_name(v))
        if self.ech:
            out["ech"] = True
        return out


class ServerHello(NamedTuple):
    """What the server chose."""

    legacy_version: int
    cipher: int
    selected_version: int | None  # from supported_versions (TLS 1.3), else None

    def fields(self, out: dict[str, Any] | None = None) -> dict[str, Any]:
        """``tls_version`` (negotiated) and ``tls_cipher`` for the connection record (into ``out``)."""
        if out is None:
            out = {}
        out["tls_version"] = version_name(self.selected_version or self.legacy_version)
        out["tls_cipher"] = cipher_name(self.cipher)
        return out


def version_name(version: int) -> str:
    """``TLS 1.3``, ``TLS 1.3 draft-28`` or ``0x....`` for anything else."""
    name = VERSION_NAMES.get(version)
    if name is not None:
        return name
    if version >> 8 == 0x7F:
        return f"TLS 1.3 draft-{version & 0xFF}"
    return f"0x{version:04x}"


def cipher_name(cipher: int) -> str:
    """IANA name of a common cipher suite, else its number in hex."""
    name = CIPHER_NAMES.get(cipher)  # the hex text is only made when needed
    return name if name is not None else f"0x{cipher:04x}"


def is_grease(value: int) -> bool:
    """RFC 8701 reserved values 0x0a0a, 0x1a1a, ... 0xfafa."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def looks_like_handshake(data: bytes) -> bool:
    """Whether a stream starts like a TLS handshake record (checked on the first bytes only)."""
    if not data or data[0] != CONTENT_HANDSHAKE:
        return False
    if len(data) >= 2 and data[1] != 3:
        return False
    return len(data) < 3 or data[2] <= 4


def first_handshake_message(stream: bytes | bytearray) -> tuple[int, bytes] | None:
    """(type, body) of the first handshake message in a record stream; None when incomplete."""
    # The common case first: the whole message inside the first record (or the part of it
    # captured so far), read in place.
    if len(stream) >= 9 and stream[0] == CONTENT_HANDSHAKE and stream[1] == 3:
        rlen = (stream[3] << 8) | stream[4]
        if 0 < rlen <= MAX_RECORD_LEN:
            stop = (stream[6] << 16 | stream[7] << 8 | stream[8]) + 9
            if stop <= RECORD_HEADER_LEN + rlen and stop <= len(stream):
                return stream[5], bytes(stream[9:stop])
    joined = bytearray()
    pos = 0
    end = len(stream)
    while True:
        if len(joined) >= 4:
            length = int.from_bytes(joined[1:4], "big")
            if len(joined) >= 4 + length:
                return joined[0], bytes(joined[4 : 4 + length])
        if pos >= end:
            return None
        if stream[pos] == CONTENT_ALERT and not joined:
            # A warning alert may come before the hello (a server that does not know the SNI
            # name says unrecognized_name, RFC 6066 §3, then its ServerHello): passed over.
            if pos + RECORD_HEADER_LEN > end:
                return None
            rlen = int.from_bytes(stream[pos + 3 : pos + 5], "big")
            if rlen == 0 or rlen > MAX_RECORD_LEN:
                raise DissectError(f"TLS record length {rlen}")
            pos += RECORD_HEADER_LEN + rlen
            continue
        if stream[pos] != CONTENT_HANDSHAKE:
            raise DissectError(f"TLS record type {stream[pos]} before the hello was complete")
        if pos + 1 < end and stream[pos + 1] != 3:
            raise DissectError("not a TLS record version")
        if pos + RECORD_HEADER_LEN > end:
            return None
        rlen = int.from_bytes(stream[pos + 3 : pos + 5], "big")
        if rlen == 0 or rlen > MAX_RECORD_LEN:
            raise DissectError(f"TLS record length {rlen}")
        # A record still arriving contributes what is there: the message may already be whole.
        joined += stream[pos + RECORD_HEADER_LEN : pos + RECORD_HEADER_LEN + rlen]
        pos += RECORD_HEADER_LEN + rlen


# The hello parsers read with plain offsets: each length is checked against the end of the
# vector that holds it, which is what a bounds-checked cursor would do, without the objects.
_PAST_END: Final = "TLS field runs past its end"
_VECTOR_PAST_END: Final = "TLS vector runs past its end"


def _server_name(body: bytes, pos: int, end: int) -> str | None:
    """The host_name of a server_name extension body at [pos, end)."""
    if pos + 2 > end:
        raise DissectError(_PAST_END)
    stop = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if stop > end:
        raise DissectError(_VECTOR_PAST_END)
    pos += 2
    while pos < stop:
        kind = body[pos]
        if pos + 3 > stop:
            raise DissectError(_PAST_END)
        start = pos + 3
        pos = start + ((body[pos + 1] << 8) | body[pos + 2])
        if pos > stop:
            raise DissectError(_VECTOR_PAST_END)
        if kind == SNI_HOST_NAME:
            if start == pos:
                raise DissectError("empty server name")
            return escape_text(body[start:pos], 255)
    return None


def _alpn(body: bytes, pos: int, end: int) -> tuple[str, ...]:
    """The protocols of an ALPN extension body at [pos, end)."""
    if pos + 2 > end:
        raise DissectError(_PAST_END)
    stop = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if stop > end:
        raise DissectError(_VECTOR_PAST_END)
    pos += 2
    out: list[str] = []
    while pos < stop:
        start = pos + 1
        pos = start + body[pos]
        if pos > stop:
            raise DissectError(_VECTOR_PAST_END)
        if len(out) < MAX_ALPN:
            raw = body[start:pos]
            text = _ALPN_TEXT.get(raw)
            out.append(text if text is not None else escape_text(raw, 64))
    return tuple(out)


# The registered ALPN ids offered every day: printable ASCII, so their text is the id itself
# (what escape_text would return), without the call.
_ALPN_TEXT: Final = {
    t: t.decode("ascii")
    for t in (
        b"h2",
        b"http/1.1",
        b"h3",
        b"http/1.0",
        b"spdy/3.1",
        b"acme-tls/1",
        b"dot",
        b"doq",
        b"imap",
        b"pop3",
        b"smtp",
        b"xmpp-client",
        b"xmpp-server",
        b"stun.turn",
        b"webrtc",
        b"mqtt",
        b"ftp",
    )
}


def _hello_start(body: bytes, what: str) -> tuple[int, int]:
    """(legacy_version, offset after random and session id) of a Client/ServerHello body."""
    end = len(body)
    if end < 2:
        raise DissectError(_PAST_END)
    legacy_version = (body[0] << 8) | body[1]
    if legacy_version >> 8 not in (3, 0xFE):
        raise DissectError(f"{what} version 0x{legacy_version:04x}")
    if end < 35:  # the random and the session id's length
        raise DissectError(_PAST_END)
    n = body[34]
    if 35 + n > end:
        raise DissectError(_VECTOR_PAST_END)
    if n > 32:
        raise DissectError(f"{what} session id longer than 32")
    return legacy_version, 35 + n


# An extension's type and length.
_EXT_HEADER: Final = struct.Struct("!HH").unpack_from


def parse_client_hello(body: bytes) -> ClientHello:
    """A ClientHello handshake body (after the 4-byte handshake header)."""
    end = len(body)
    legacy_version, pos = _hello_start(body, "ClientHello")
    if pos + 2 > end:
        raise DissectError(_PAST_END)
    n = (body[pos] << 8) | body[pos + 1]
    pos += 2 + n
    if pos > end:
        raise DissectError(_VECTOR_PAST_END)
    if n % 2 or n == 0:
        raise DissectError("ClientHello cipher suite list")
    if pos >= end:
        raise DissectError(_PAST_END)
    pos += 1 + body[pos]  # compression methods
    if pos > end:
        raise DissectError(_VECTOR_PAST_END)
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    versions: list[int] = []
    ech = False
    if pos < end:  # extensions are optional before TLS 1.3
        pos, stop = _extensions(body, pos, end)
        # One pass: an extension read before a later one turns out broken does not matter,
        # as the whole hello is then refused.
        while pos < stop:
            if pos + 4 > stop:
                raise DissectError(_PAST_END)
            etype, n = _EXT_HEADER(body, pos)  # one struct read: half the cost of four indexings
            start = pos + 4
            pos = start + n
            if pos > stop:
                raise DissectError(_VECTOR_PAST_END)
            if etype == EXT_SERVER_NAME:
                if start < pos:
                    sni = _server_name(body, start, pos)
            elif etype == EXT_ALPN:
                alpn = _alpn(body, start, pos)
            elif etype == EXT_SUPPORTED_VERSIONS:
                if start >= pos:
                    raise DissectError(_PAST_END)
                p = start + 1
                q = p + body[start]
                if q > pos:
                    raise DissectError(_VECTOR_PAST_END)
                while p + 2 <= q:
                    v = (body[p] << 8) | body[p + 1]
                    p += 2
                    grease = (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)  # is_grease, inline
                    if not grease and len(versions) < MAX_VERSIONS:
                        versions.append(v)
            elif etype == EXT_ECH or etype == EXT_ESNI:
                ech = True
    return _make(ClientHello, (legacy_version, sni, alpn, tuple(versions), ech))


def _extensions(body: bytes, pos: int, end: int) -> tuple[int, int]:
    """Where a hello's extension block at ``pos`` starts and stops (after its 2-byte length)."""
    if pos + 2 > end:
        raise DissectError(_PAST_END)
    stop = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if stop > end:
        raise DissectError(_VECTOR_PAST_END)
    return pos + 2, stop


def parse_server_hello(body: bytes) -> ServerHello:
    """A ServerHello (or HelloRetryRequest) handshake body."""
    end = len(body)
    legacy_version, pos = _hello_start(body, "ServerHello")
    if pos + 3 > end:
        raise DissectError(_PAST_END)
    cipher = (body[pos] << 8) | body[pos + 1]
    pos += 3  # and the compression method
    selected: int | None = None
    if pos < end:  # extensions are optional before TLS 1.3
        pos, stop = _extensions(body, pos, end)
        # One pass, as in parse_client_hello: every header checked, the last supported_versions read.
        while pos < stop:
            if pos + 4 > stop:
                raise DissectError(_PAST_END)
            etype, n = _EXT_HEADER(body, pos)
            start = pos + 4
            pos = start + n
            if pos > stop:
                raise DissectError(_VECTOR_PAST_END)
            if etype == EXT_SUPPORTED_VERSIONS and n >= 2:
                selected = (body[start] << 8) | body[start + 1]
    return _make(ServerHello, (legacy_version, cipher, selected))


def client_hello_from_stream(stream: bytes) -> ClientHello | None:
    """The ClientHello at the start of a client's TCP stream; None until it is complete."""
    msg = first_handshake_message(stream)
    if msg is None:
        return None
    if msg[0] != HS_CLIENT_HELLO:
        raise DissectError(f"first handshake message is type {msg[0]}, not ClientHello")
    return parse_client_hello(msg[1])


def server_hello_from_stream(stream: bytes) -> ServerHello | None:
    """The ServerHello at the start of a server's TCP stream; None until it is complete."""
    msg = first_handshake_message(stream)
    if msg is None:
        return None
    if msg[0] != HS_SERVER_HELLO:
        raise DissectError(f"first handshake message is type {msg[0]}, not ServerHello")
    return parse_server_hello(msg[1])
