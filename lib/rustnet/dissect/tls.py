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

from typing import Any, Final, NamedTuple

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

CONTENT_HANDSHAKE: Final = 22
HS_CLIENT_HELLO: Final = 1
HS_SERVER_HELLO: Final = 2
RECORD_HEADER_LEN: Final = 5
MAX_RECORD_LEN: Final = 16384 + 2048  # TLSCiphertext limit, RFC 8446 §5.2

EXT_SERVER_NAME: Final = 0
EXT_ALPN: Final = 16
EXT_SUPPORTED_VERSIONS: Final = 43
EXT_ECH: Final = 0xFE0D          # encrypted_client_hello (draft-ietf-tls-esni-13 and later)
EXT_ESNI: Final = 0xFFCE         # the older encrypted_server_name
SNI_HOST_NAME: Final = 0

MAX_ALPN: Final = 8              # protocols kept from the offer
MAX_VERSIONS: Final = 8

VERSION_NAMES: Final = {
    0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0", 0xFEFD: "DTLS 1.2", 0xFEFC: "DTLS 1.3",
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
    sni: str | None            # host_name from server_name, escaped; the outer name under ECH
    alpn: tuple[str, ...]      # offered protocols, escaped, at most MAX_ALPN
    versions: tuple[int, ...]  # supported_versions without GREASE, at most MAX_VERSIONS
    ech: bool                  # encrypted_client_hello (or the older ESNI) offered


    def fields(self) -> dict[str, Any]:
        """The connection-record fields this hello fills (TLS over TCP and QUIC alike)."""
        out: dict[str, Any] = {}
        if self.sni:
            out["sni"] = self.sni
        if self.alpn:
            out["alpn"] = list(self.alpn)
        if self.versions:
            out["tls_versions_offered"] = [version_name(v) for v in self.versions]
        if self.ech:
            out["ech"] = True
        return out


class ServerHello(NamedTuple):
    """What the server chose."""

    legacy_version: int
    cipher: int
    selected_version: int | None  # from supported_versions (TLS 1.3), else None

    def fields(self) -> dict[str, Any]:
        """``tls_version`` (negotiated) and ``tls_cipher`` for the connection record."""
        return {"tls_version": version_name(self.selected_version or self.legacy_version),
                "tls_cipher": cipher_name(self.cipher)}


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
    return CIPHER_NAMES.get(cipher, f"0x{cipher:04x}")


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


def first_handshake_message(stream: bytes) -> tuple[int, bytes] | None:
    """(type, body) of the first handshake message in a record stream; None when incomplete."""
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


class _Cursor:
    """Bounds-checked big-endian reads over one handshake body."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise DissectError("TLS field runs past its end")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vector(self, len_bytes: int) -> _Cursor:
        """A sub-cursor over a length-prefixed vector, advancing past it."""
        n = self.u8() if len_bytes == 1 else self.u16()
        if self.pos + n > self.end:
            raise DissectError("TLS vector runs past its end")
        sub = _Cursor(self.data, self.pos, self.pos + n)
        self.pos += n
        return sub

    def left(self) -> int:
        return self.end - self.pos


def _extensions(cur: _Cursor) -> list[tuple[int, _Cursor]]:
    if cur.left() == 0:
        return []  # extensions are optional before TLS 1.3
    block = cur.vector(2)
    out: list[tuple[int, _Cursor]] = []
    while block.left():
        etype = block.u16()
        out.append((etype, block.vector(2)))
    return out


def _server_name(ext: _Cursor) -> str | None:
    names = ext.vector(2)
    while names.left():
        kind = names.u8()
        name = names.vector(2)
        if kind == SNI_HOST_NAME:
            raw = name.take(name.left())
            if not raw:
                raise DissectError("empty server name")
            return escape_text(raw, 255)
    return None


def _alpn(ext: _Cursor) -> tuple[str, ...]:
    protos = ext.vector(2)
    out: list[str] = []
    while protos.left():
        proto = protos.vector(1)
        if len(out) < MAX_ALPN:
            out.append(escape_text(proto.take(proto.left()), 64))
    return tuple(out)


def parse_client_hello(body: bytes) -> ClientHello:
    """A ClientHello handshake body (after the 4-byte handshake header)."""
    cur = _Cursor(body)
    legacy_version = cur.u16()
    if legacy_version >> 8 not in (3, 0xFE):
        raise DissectError(f"ClientHello version 0x{legacy_version:04x}")
    cur.take(32)
    session_id = cur.vector(1)
    if session_id.left() > 32:
        raise DissectError("ClientHello session id longer than 32")
    suites = cur.vector(2)
    if suites.left() % 2 or suites.left() == 0:
        raise DissectError("ClientHello cipher suite list")
    cur.vector(1)  # compression methods
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    versions: list[int] = []
    ech = False
    for etype, ext in _extensions(cur):
        if etype == EXT_SERVER_NAME and ext.left():
            sni = _server_name(ext)
        elif etype == EXT_ALPN:
            alpn = _alpn(ext)
        elif etype == EXT_SUPPORTED_VERSIONS:
            offered = ext.vector(1)
            while offered.left() >= 2:
                v = offered.u16()
                if not is_grease(v) and len(versions) < MAX_VERSIONS:
                    versions.append(v)
        elif etype in (EXT_ECH, EXT_ESNI):
            ech = True
    return ClientHello(legacy_version, sni, alpn, tuple(versions), ech)


def parse_server_hello(body: bytes) -> ServerHello:
    """A ServerHello (or HelloRetryRequest) handshake body."""
    cur = _Cursor(body)
    legacy_version = cur.u16()
    if legacy_version >> 8 not in (3, 0xFE):
        raise DissectError(f"ServerHello version 0x{legacy_version:04x}")
    cur.take(32)
    session_id = cur.vector(1)
    if session_id.left() > 32:
        raise DissectError("ServerHello session id longer than 32")
    cipher = cur.u16()
    cur.u8()  # compression method
    selected: int | None = None
    for etype, ext in _extensions(cur):
        if etype == EXT_SUPPORTED_VERSIONS and ext.left() >= 2:
            selected = ext.u16()
    return ServerHello(legacy_version, cipher, selected)


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
