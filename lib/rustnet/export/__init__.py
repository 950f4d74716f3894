"""RustNet's exports: ``--json-log``, ``--pcap-export`` (with its sidecar), ``--pcapng-export``.

Where they sit in the pipeline (``rustnet`` is the only process that sees both ends):

* connection records reach the relay thread (last stage -> viewer); it hands each batch
  to :class:`~rustnet.export.connlog.ConnExports` (event log, sidecar) and to the pcapng
  attribution table;
* packet records are copied into rn-dissect by a tap thread (see
  rustnet.app.supervise), which hands each chunk of the stream to
  :class:`~rustnet.export.packets.PacketExports`: pcap and pcapng are written by its own
  writer thread, so neither a slow disk nor a packet waiting for its process ever slows
  the stages down.

Every file is opened here, before the stages start and before rustnet gives up its
capabilities: 0600, never through a symbolic link (rustnet.cli.safefile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rustnet.cli.safefile import append_private, create_private
from rustnet.export.connlog import ConnExports, LineFile

SIDECAR_SUFFIX = ".connections.jsonl"


@dataclass
class ExportPaths:
    json_log: str | None = None
    pcap: str | None = None
    pcapng: str | None = None

    @property
    def packets(self) -> bool:
        return self.pcap is not None or self.pcapng is not None

    @property
    def any(self) -> bool:
        return self.packets or self.json_log is not None


class ExportOpenError(OSError):
    """An export file that could not be created; ``what`` names the option."""

    def __init__(self, what: str, path: str, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror or str(exc), path)
        self.what = what


def _open(what: str, path: str, opener: Any) -> int:
    try:
        fd: int = opener(path)
    except OSError as exc:
        raise ExportOpenError(what, path, exc) from None
    return fd


class Exports:
    """The open export files of one run, and what feeds them."""

    def __init__(self, paths: ExportPaths, max_connections: int, local_ids: bool = False) -> None:
        """``local_ids``: the records' user and group names are this host's (live, not --remote),
        so their uid and gid are written as RustNet writes them."""
        self.paths = paths
        fds: list[int] = []
        try:
            events = sidecar = None
            if paths.json_log is not None:
                fd = _open("--json-log", paths.json_log, append_private)
                fds.append(fd)
                events = LineFile(fd, "--json-log")
            pcap_fd = pcapng_fd = None
            if paths.pcap is not None:
                pcap_fd = _open("--pcap-export", paths.pcap, create_private)
                fds.append(pcap_fd)
                side = paths.pcap + SIDECAR_SUFFIX
                fd = _open("--pcap-export", side, create_private)
                fds.append(fd)
                sidecar = LineFile(fd, "--pcap-export sidecar")
            if paths.pcapng is not None:
                pcapng_fd = _open("--pcapng-export", paths.pcapng, create_private)
                fds.append(pcapng_fd)
        except BaseException:
            import os

            for fd in fds:
                os.close(fd)
            raise
        self.conns = ConnExports(events, sidecar, max_connections, local_ids)
        self.packets: Any = None
        if pcap_fd is not None or pcapng_fd is not None:
            from rustnet.export.packets import PacketExports

            self.packets = PacketExports(pcap_fd, pcapng_fd, max_connections, local_ids)

    def observe(self, recs: list[Any]) -> None:
        """A batch of records on their way to the viewer (the relay thread)."""
        self.conns.observe(recs)
        if self.packets is not None:
            self.packets.observe(recs)

    def records_ended(self) -> None:
        """The record stream ended (the relay thread)."""
        if self.packets is not None:
            self.packets.records_ended()

    def close(self) -> list[str]:
        """Finish every file; the one-line reports (errors, drops) to give the user."""
        said: list[str] = []
        if self.packets is not None:
            said += self.packets.close()
        said += self.conns.close()
        return said
