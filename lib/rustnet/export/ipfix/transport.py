"""Sending IPFIX messages to a collector over UDP or TCP without ever holding up the pipeline.

Both senders are non-blocking: a collector that is down, slow or unreachable costs counted errors
and dropped messages, never a stalled stream. UDP sends each message as one datagram (a refused
port shows as ECONNREFUSED on a later send: counted). TCP connects in the background, retries
with a doubling backoff (1 s to 30 s), and keeps at most ``max_buffer`` bytes of messages waiting;
every reconnection is a new transport session (the caller restarts numbering and templates).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from typing import Final

MIN_BACKOFF: Final = 1.0
MAX_BACKOFF: Final = 30.0
DEFAULT_BUFFER: Final = 4 << 20


class ExportAddressError(ValueError):
    """HOST:PORT that is not one."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` into (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExportAddressError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:4739 or [::1]:4739)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ExportAddressError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:4739")
    return host, int(port)


def resolve(host: str, port: int, kind: int) -> tuple[int, tuple[str, int] | tuple[str, int, int, int]]:
    """The address family and socket address of ``host`` (the first that getaddrinfo gives)."""
    try:
        infos = socket.getaddrinfo(host, port, type=kind)
    except socket.gaierror as exc:
        raise OSError(f"{host}: {exc.strerror}") from None
    family, _type, _proto, _name, addr = infos[0]
    return family, addr  # type: ignore[return-value]


class Sender:
    """What the exporter needs of a transport."""

    sent_messages: int
    errors: int
    dropped_messages: int
    last_error: str | None
    new_session: bool

    def send(self, message: bytes, now: float) -> bool:
        raise NotImplementedError

    def ready(self, now: float) -> bool:
        raise NotImplementedError

    def flush(self, now: float) -> None:
        raise NotImplementedError

    def close(self, wait: float) -> None:
        raise NotImplementedError


class UdpSender(Sender):
    def __init__(self, host: str, port: int) -> None:
        family, addr = resolve(host, port, socket.SOCK_DGRAM)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(addr)  # a connected socket hears of ICMP port unreachable
        self.sent_messages = self.errors = self.dropped_messages = 0
        self.last_error = None
        self.new_session = False

    def ready(self, now: float) -> bool:
        return True

    def send(self, message: bytes, now: float) -> bool:
        try:
            self.sock.send(message)
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                # The refusal was for an earlier datagram; this one may well have gone: try once more.
                self.errors += 1
                self.last_error = exc.strerror or str(exc)
                try:
                    self.sock.send(message)
                except OSError as again:
                    self.errors += 1
                    self.last_error = again.strerror or str(again)
                    self.dropped_messages += 1
                    return False
            else:
                self.errors += 1
                self.last_error = exc.strerror or str(exc)
                self.dropped_messages += 1
                return False
        self.sent_messages += 1
        return True

    def flush(self, now: float) -> None:
        """Hear of a refusal (ICMP) of datagrams already sent, without sending anything."""
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.errors += 1
            self.last_error = os.strerror(err)

    def close(self, wait: float) -> None:
        # A refusal of the last datagrams arrives after them: give it a moment to be counted.
        if wait > 0:
            time.sleep(min(wait, 0.05))
        self.flush(time.time())
        self.sock.close()


class TcpSender(Sender):
    def __init__(self, host: str, port: int, max_buffer: int = DEFAULT_BUFFER) -> None:
        self.family, self.addr = resolve(host, port, socket.SOCK_STREAM)
        self.max_buffer = max_buffer
        self.sock: socket.socket | None = None
        self.connected = False
        self.out = bytearray()
        self.backoff = MIN_BACKOFF
        self.retry_at = 0.0
        self.sent_messages = self.errors = self.dropped_messages = 0
        self.last_error = None
        self.new_session = False

    def _fail(self, message: str, now: float) -> None:
        self.errors += 1
        self.last_error = message
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.connected = False
        if self.out:
            self.dropped_messages += 1  # at least one message of the lost session
        self.out.clear()  # messages of a lost session cannot be resumed mid-stream
        self.retry_at = now + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def ready(self, now: float) -> bool:
        """True when connected; starts or checks a connection attempt otherwise."""
        if self.connected:
            return True
        if self.sock is None:
            if now < self.retry_at:
                return False
            self.sock = socket.socket(self.family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            err = self.sock.connect_ex(self.addr)
            if err not in (0, errno.EINPROGRESS):
                self._fail(os.strerror(err), now)
                return False
            if err == errno.EINPROGRESS:
                return False
        else:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._fail(os.strerror(err), now)
                return False
            try:
                self.sock.getpeername()
            except OSError:
                return False  # still connecting
        self.connected = True
        self.backoff = MIN_BACKOFF
        self.new_session = True
        return True

    def send(self, message: bytes, now: float) -> bool:
        if not self.ready(now) or len(self.out) + len(message) > self.max_buffer:
            self.dropped_messages += 1
            return False
        self.out += message
        self.sent_messages += 1
        self.flush(now)
        return True

    def flush(self, now: float) -> None:
        if not self.out or self.sock is None or not self.connected:
            return
        try:
            n = self.sock.send(self.out)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc.strerror or str(exc), now)
            return
        del self.out[:n]

    def close(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while self.out and self.connected and time.monotonic() < deadline:
            self.flush(time.time())
            if self.out:
                time.sleep(0.01)
        if self.out:
            self.dropped_messages += 1
        if self.sock is not None:
            self.sock.close()
