"""The shape every record-consuming stage has, so stages run as commands or in-process.

``rn-dissect``, ``rn-track`` and ``rn-enrich`` are each a :class:`Stage`; the command
wraps one in the shared read loop, and ``rn-view``/``rustnet`` chain them in one process
(``Chain([Dissect(...), Track(...)])``) when given packet records.

A stage consumes the record types it understands and passes every other record
through unchanged and in order (a header is passed on restamped with the stage's
producer name). It never raises on record content: damaged or hostile input becomes
a counted or flagged record.
"""

from __future__ import annotations

from typing import Protocol

from rustnet.stream.records import Record


class Stage(Protocol):
    def process(self, recs: list[Record]) -> list[Record]:
        """Records in, records out (the output may be empty, or longer than the input)."""
        ...

    def tick(self, now: float) -> list[Record]:
        """Called about once a second of wall-clock time (epoch ``now``) while live; periodic output."""
        ...

    def finish(self) -> list[Record]:
        """End of input: the final records (e.g. one final record per connection)."""
        ...


class Chain:
    """Several stages run one after the other in-process."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages
        # pkb records reach the first stage as they are when it reads them itself (a Dissector).
        self.takes_packet_batches = bool(stages) and takes_packet_batches(stages[0])

    def process(self, recs: list[Record]) -> list[Record]:
        for st in self.stages:
            recs = st.process(recs)
        return recs

    def tick(self, now: float) -> list[Record]:
        out: list[Record] = []
        for st in self.stages:
            out = st.process(out) + st.tick(now)
        return out

    def finish(self) -> list[Record]:
        out: list[Record] = []
        for st in self.stages:
            out = st.process(out) + st.finish()
        return out


def takes_packet_batches(stage: object) -> bool:
    """Whether ``stage`` reads ``pkb`` records itself (rustnet.stream.pktbatch), so its reader
    need not turn them into ``pkt`` records first."""
    return getattr(stage, "takes_packet_batches", False) is True
