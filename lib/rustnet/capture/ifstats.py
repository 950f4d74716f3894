"""Interface counters for ``ifstats`` records: every interface under /sys/class/net, read often.

The kernel keeps a cumulative counter file per interface and counter
(``statistics/rx_bytes`` ...). Opening 9 files per interface every 500 ms would be most of
an idle rn-capture's cost, so each file stays open and is re-read from offset 0 (sysfs
makes its text anew on a read at 0). The directory is listed on every sample, so interfaces
that come and go are followed; a counter that cannot be read (the interface went away
between the listing and the read) is left out of that sample.

/sys/class/net shows the interfaces of the network namespace sysfs was mounted in: run
rn-capture in a namespace with ``ip netns exec``, which mounts a sysfs of its own.
"""

from __future__ import annotations

import os
import time
from typing import Any, Final

from rustnet.stream.bounds import MAX_IFACES
from rustnet.stream.fields import IFACE_COUNTERS
from rustnet.stream.records import IFSTATS

SYS_NET: Final = "/sys/class/net"
INTERVAL: Final = 0.5  # seconds between samples (RustNet's)


class InterfaceSampler:
    """Reads every interface's counters; :meth:`record` makes one ``ifstats`` record."""

    def __init__(self, captured: str | None, root: str = SYS_NET) -> None:
        self.captured = captured
        self.root = root
        self._fds: dict[str, list[int]] = {}  # interface -> open counter files (IFACE_COUNTERS order)

    def available(self) -> bool:
        """True when this host has the counter files (Linux with sysfs)."""
        return os.path.isdir(self.root)

    def record(self, now: float | None = None) -> dict[str, Any]:
        """The counters of every interface now, as an ``ifstats`` record."""
        try:
            names = sorted(os.listdir(self.root))
        except OSError:
            names = []
        if len(names) > MAX_IFACES:  # what a consumer keeps: the captured interface among them
            keep = names[: MAX_IFACES - 1]
            names = keep + [
                self.captured if self.captured in names[MAX_IFACES - 1 :] else names[MAX_IFACES - 1]
            ]
        for gone in set(self._fds).difference(names):
            self._close(gone)
        ifaces = []
        for name in names:
            counters = self._read(name)
            if counters is not None:
                entry: dict[str, Any] = {"name": name}
                entry.update(zip(IFACE_COUNTERS, counters, strict=True))
                ifaces.append(entry)
        return {
            "t": IFSTATS,
            "ts": time.time() if now is None else now,
            "captured": self.captured,
            "ifaces": ifaces,
        }

    def _read(self, name: str) -> list[int] | None:
        fds = self._fds.get(name)
        if fds is None:
            fds = self._open(name)
            if fds is None:
                return None
        try:
            return [int(os.pread(fd, 32, 0)) for fd in fds]
        except (OSError, ValueError):
            # Removed (ENODEV), or a new interface now holds the name: open afresh next time.
            self._close(name)
            return None

    def _open(self, name: str) -> list[int] | None:
        base = os.path.join(self.root, name, "statistics")
        fds: list[int] = []
        try:
            for counter in IFACE_COUNTERS:
                fds.append(os.open(os.path.join(base, counter), os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            return None
        self._fds[name] = fds
        return fds

    def _close(self, name: str) -> None:
        for fd in self._fds.pop(name, []):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        for name in list(self._fds):
            self._close(name)
