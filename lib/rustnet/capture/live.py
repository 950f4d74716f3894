"""Live capture with libpcap: a non-blocking handle drained in batches after ``select``.

A blocking read on an idle interface never returns and does not let SIGINT in, so the
handle is non-blocking and the loop waits in ``select`` on its descriptor (and on a
wake-up pipe the signal handlers write to). ``next_batch`` moves many packets per call
into Python; it has no wire length, so with the default snaplen (larger than any frame
the kernel hands us) the captured length is the wire length. With a small snaplen the
loop reads with ``next()``, which reports the real wire length.
"""

from __future__ import annotations

from typing import Any

import pcapy

from rustnet.capture.batch import BatchReadError, pump_batches
from rustnet.capture.pcapwrite import PcapWriter
from rustnet.stream import RecordWriter

DEFAULT_SNAPLEN = 262144
# The kernel ring: at 100,000 packets/s of mixed traffic, 64 MiB holds seconds of packets while
# the pipeline downstream catches up.
DEFAULT_BUFFER = 64 << 20
READ_TIMEOUT_MS = 100
# Packets per drain() call at most, so stats and stop requests are seen under a flood.
DRAIN_LIMIT = 16384


class LiveOpenError(Exception):
    """libpcap refused to open or activate the interface; ``reason`` is its message."""

    def __init__(self, reason: str, permission: bool = False, no_device: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permission = permission
        self.no_device = no_device


# libpcap's pcap_activate() error codes (pcap/pcap.h).
_PCAP_ERROR_NO_SUCH_DEVICE = -5
_PCAP_ERROR_PERM_DENIED = -8
_PCAP_ERROR_IFACE_NOT_UP = -9
_PCAP_ERROR_PROMISC_PERM_DENIED = -11


def _open_error(reason: str) -> LiveOpenError:
    low = reason.lower()
    return LiveOpenError(
        reason, permission="permission" in low or "not permitted" in low, no_device="no such device" in low
    )


def _activate_error(iface: str, code: int, snaplen: int, promisc: bool) -> LiveOpenError:
    if code == _PCAP_ERROR_NO_SUCH_DEVICE:
        return LiveOpenError("no such device", no_device=True)
    if code in (_PCAP_ERROR_PERM_DENIED, _PCAP_ERROR_PROMISC_PERM_DENIED):
        return LiveOpenError("permission denied", permission=True)
    if code == _PCAP_ERROR_IFACE_NOT_UP:
        return LiveOpenError(f"the interface is not up (bring it up: ip link set {iface} up)")
    # A generic failure: libpcap's text is only reachable through open_live's exception.
    try:
        probe = pcapy.open_live(iface, snaplen, 1 if promisc else 0, READ_TIMEOUT_MS)
    except pcapy.PcapError as exc:
        return _open_error(str(exc))
    probe.close()
    return LiveOpenError(f"pcap_activate failed with status {code}")


class InterfaceGone(Exception):
    """Reading failed mid-capture: the interface went down or disappeared (after ``packets`` more)."""

    def __init__(self, reason: str, packets: int = 0) -> None:
        super().__init__(reason)
        self.packets = packets


class LiveCapture:
    """One activated, non-blocking libpcap handle on ``iface``."""

    def __init__(
        self,
        iface: str,
        snaplen: int = DEFAULT_SNAPLEN,
        promisc: bool = True,
        buffer_size: int = DEFAULT_BUFFER,
    ) -> None:
        self.iface = iface
        self.snaplen = snaplen
        self.exact_wirelen = snaplen < DEFAULT_SNAPLEN
        try:
            handle = pcapy.create(iface)
            handle.set_snaplen(snaplen)
            handle.set_promisc(1 if promisc else 0)
            handle.set_buffer_size(buffer_size)
            handle.set_timeout(READ_TIMEOUT_MS)
            code = handle.activate()
        except pcapy.PcapError as exc:
            raise _open_error(str(exc)) from None
        # pcapy returns activate()'s status instead of raising: negative is an error, positive a warning.
        if isinstance(code, int) and code < 0:
            raise _activate_error(iface, code, snaplen, promisc)
        self.handle: Any = handle

    def start(self) -> None:
        """Switch to non-blocking reads (after the filter is set)."""
        self.handle.setnonblock(1)

    @property
    def linktype(self) -> int:
        return int(self.handle.datalink())

    def fileno(self) -> int:
        return int(self.handle.getfd())

    def setfilter(self, expr: str) -> None:
        self.handle.setfilter(expr)

    def stats(self) -> tuple[int, int, int]:
        """(received, dropped by the kernel, dropped by the interface), from libpcap."""
        try:
            recv, drop, ifdrop = self.handle.stats()
        except pcapy.PcapError:
            return 0, 0, 0
        return int(recv), int(drop), int(ifdrop)

    def drain(self, writer: RecordWriter, dump: PcapWriter | None, limit: int) -> int:
        """Write the packets waiting now (at most ``limit``) as ``pkt`` records; returns how many."""
        if self.exact_wirelen:
            return self._drain_next(writer, dump, limit)
        try:
            return pump_batches(self.handle.next_batch, writer, dump, limit)
        except BatchReadError as exc:
            raise InterfaceGone(exc.reason, exc.packets) from None

    def _drain_next(self, writer: RecordWriter, dump: PcapWriter | None, limit: int) -> int:
        nxt = self.handle.next
        write = writer.write
        n = 0
        while n < limit:
            try:
                hdr, data = nxt()
            except pcapy.PcapError as exc:
                raise InterfaceGone(str(exc), n) from None
            if hdr is None:
                break
            sec, usec = hdr.getts()
            wirelen = hdr.getlen()
            write(["pkt", sec + usec * 1e-6, wirelen, data])
            if dump is not None:
                dump.write(sec, usec, wirelen, data)
            n += 1
        return n

    def close(self) -> None:
        try:
            self.handle.close()
        except (pcapy.PcapError, AttributeError):
            pass
