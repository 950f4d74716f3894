"""rn-export's stage: every record passes through unchanged; connection records become IPFIX flows.

What is exported, like a NetFlow exporter's inactive and active timeouts:

* each connection's final record (rn-track writes it when the connection expires by its idle
  timeouts, is evicted, is replaced by a new connection on its tuple, or at the end of input),
  with flowEndReason idle timeout, end of flow detected (TCP closed, QUIC closed), lack of
  resources (evicted) or forced end (end of input);
* with an active timeout, a connection still running also gets a flow record (reason active
  timeout) for what it sent since its previous one, once that period lasted the timeout. The
  counters are deltas: the flows of one connection add up to its totals.

Flows leave in messages of bounded size at least once a second while records flow, and at the
end. A collector that is down costs only counted errors and dropped messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from rustnet.export.ipfix.messages import (
    ACTIVE_TIMEOUT,
    END_OF_FLOW,
    FORCED_END,
    IDLE_TIMEOUT,
    LACK_OF_RESOURCES,
    Flow,
    MessageBuilder,
    encode_flow,
    link_header_len,
)
from rustnet.export.ipfix.transport import Sender
from rustnet.stream.records import CONN, HEADER, WARNING, Record, restamp_header

# Connections followed for active-timeout deltas (about 200 bytes each): more than rn-track's
# default --max-connections, bounded against a hostile stream of ids.
MAX_LIVE: Final = 1 << 18
MAX_PENDING: Final = 100_000  # flows waiting for a collector that is not ready (TCP), oldest dropped
_ENDED_STATES: Final = frozenset(
    {"CLOSED", "TIME_WAIT", "LAST_ACK", "CLOSING", "QUIC_CLOSED", "QUIC_DRAINING"}
)
_REASONS: Final = {"evicted": LACK_OF_RESOURCES, "reused": END_OF_FLOW, "eof": FORCED_END}


def end_reason(rec: dict[str, Any]) -> int:
    """flowEndReason of a final connection record."""
    end = rec.get("end")
    if end == "timeout" or end not in _REASONS:
        return END_OF_FLOW if rec.get("state") in _ENDED_STATES else IDLE_TIMEOUT
    return _REASONS[end]


def _int(value: Any) -> int:
    """A counter of the record: 0 when damaged or negative."""
    return value if type(value) is int and value > 0 else 0


class Exporter:
    """A :class:`rustnet.stream.stage.Stage` that exports connection records and passes all on."""

    def __init__(
        self,
        sender: Sender,
        builder: MessageBuilder,
        active_timeout: float = 0.0,
        template_refresh: float = 60.0,
        report: Callable[[str], None] | None = None,
        producer: str = "",
    ) -> None:
        self.producer = producer
        self.sender = sender
        self.builder = builder
        self.active_timeout = active_timeout
        self.template_refresh = template_refresh
        self.report = report
        self.linktype: Any = None
        self.live: dict[Any, list[Any]] = {}  # id -> [packets, octets (src), packets, octets (dst), since]
        self.pending: list[Flow] = []
        self._pending_bytes = 0
        self.templates_at = time.monotonic()
        self.flows = 0  # flows put in messages that were sent
        self.not_ip = 0  # connection records that cannot be IP flows (ARP, damaged)
        self.dropped_flows = 0  # flows in messages that could not be sent, or that waited too long
        self._reported = False
        sender.ready(time.time())  # a TCP connection starts now, in the background

    # --- Stage -----------------------------------------------------------------------------
    def process(self, recs: list[Record]) -> list[Record]:
        for i, rec in enumerate(recs):
            if type(rec) is dict:
                t = rec.get("t")
                if t == CONN:
                    self._conn(rec)
                elif t == HEADER:
                    self.linktype = rec.get("linktype")
                    self.live.clear()  # a new stream (concatenated recordings): its ids start anew
                    if self.producer:
                        recs = recs[:i] + [restamp_header(rec, self.producer)] + recs[i + 1 :]
        if self._pending_bytes >= 8 * self.builder.max_size:
            self._send()
        return recs

    def tick(self, now: float) -> list[Record]:
        mono = time.monotonic()
        if self.template_refresh > 0 and mono - self.templates_at >= self.template_refresh:
            self.builder.want_templates()  # RFC 7011 §8.4: over UDP, templates are resent periodically
            self.templates_at = mono
        self._send()
        self.sender.flush(now)
        said = self._check_errors()
        # the viewer shows a warn record in its status bar: the first export error, once
        return [] if said is None else [{"t": WARNING, "ts": now, "stage": "rn-export", "msg": said}]

    def finish(self) -> list[Record]:
        self._send()
        return []

    def close(self, wait: float = 1.0) -> None:
        """Send what waits (a TCP connection may take until ``wait`` seconds), count the rest."""
        deadline = time.monotonic() + wait
        self._send()
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.02)
            self._send()
        self.dropped_flows += len(self.pending)
        self.pending = []
        self.sender.close(max(deadline - time.monotonic(), 0.0))
        self._check_errors()

    # --- records ---------------------------------------------------------------------------
    def _conn(self, rec: dict[str, Any]) -> None:
        cid = rec.get("id")
        if type(cid) is not int:
            cid = None
        final = rec.get("final") is True
        if not final and (self.active_timeout <= 0 or cid is None):
            return  # an update that no active timeout exports: nothing to count
        ps, pd = _int(rec.get("packets_src")), _int(rec.get("packets_dst"))
        hl = link_header_len(self.linktype, rec.get("vlan"))
        os_ = max(_int(rec.get("bytes_src")) - ps * hl, 0)
        od = max(_int(rec.get("bytes_dst")) - pd * hl, 0)
        if final:
            prev = self.live.pop(cid, None) if cid is not None else None
            reason = end_reason(rec)
        else:
            prev = self.live.get(cid)
            if prev is None:
                if len(self.live) >= MAX_LIVE:
                    return
                first = rec.get("first_seen")
                self.live[cid] = prev = [0, 0, 0, 0, first]
            last = rec.get("last_seen")
            since = prev[4]
            if type(last) not in (int, float) or type(since) not in (int, float):
                return
            if last - since < self.active_timeout or (ps, os_, pd, od) == tuple(prev[:4]):
                return
            reason = ACTIVE_TIMEOUT
        start = rec.get("first_seen") if prev is None else prev[4]
        counts = (ps, os_, pd, od)
        if prev is not None:
            counts = (
                max(ps - prev[0], 0),
                max(os_ - prev[1], 0),
                max(pd - prev[2], 0),
                max(od - prev[3], 0),
            )
        flow = encode_flow(
            rec.get("src"),  # type: ignore[arg-type]
            rec.get("dst"),  # type: ignore[arg-type]
            rec.get("sport"),
            rec.get("dport"),
            rec.get("proto"),
            start,
            rec.get("last_seen"),
            counts,
            reason,
            rec.get("app"),
            rec.get("sni"),
            (rec.get("tcp_flags_src"), rec.get("tcp_flags_dst")),
        )
        if flow is None:
            self.not_ip += 1
            return
        if reason == ACTIVE_TIMEOUT:
            self.live[cid] = [ps, os_, pd, od, rec.get("last_seen")]
        self.pending.append(flow)
        self._pending_bytes += len(flow.encoded)

    def _send(self) -> None:
        now = time.time()
        if not self.sender.ready(now):
            if len(self.pending) > MAX_PENDING:
                drop = len(self.pending) - MAX_PENDING
                self._pending_bytes -= sum(len(f.encoded) for f in self.pending[:drop])
                del self.pending[:drop]
                self.dropped_flows += drop
            return
        if self.sender.new_session:  # a new TCP connection: numbering restarts, templates first
            self.builder.restart_session()
            self.sender.new_session = False
            self.templates_at = time.monotonic()
        messages, counts = self.builder.build(self.pending, int(now))
        self.pending = []
        self._pending_bytes = 0
        for message, n in zip(messages, counts, strict=True):
            if self.sender.send(message, now):
                self.flows += n
            else:
                self.dropped_flows += n

    def _check_errors(self) -> str | None:
        """The first export error, said once (on stderr through ``report``), else None."""
        if not self.sender.errors or self._reported:
            return None
        self._reported = True
        said = (
            f"export error: {self.sender.last_error}; records still pass through, "
            "export errors are counted (summary at exit)"
        )
        if self.report is not None:
            self.report(said)
        return said

    def summary(self) -> str:
        return (
            f"{self.flows} flows sent, {self.dropped_flows} dropped, {self.sender.errors} export "
            f"errors, {self.not_ip} connection records not IP flows"
            + (f" (last error: {self.sender.last_error})" if self.sender.last_error else "")
        )
