"""Several hosts (nodes) in one table: each node's interfaces and sockets kept apart.

Records of a merged stream carry ``node`` (rustnet.view.merge). A connection's key in the
table is then (node, id), so equal ids or 5-tuples of two hosts stay two rows; here the
per-node halves of what the table otherwise keeps once: interface counters (rates are
differences between two records of the same host) and the sockets connections are
attributed to (a socket of one host never names a process of another).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from rustnet.stream.bounds import MAX_IFNAME
from rustnet.view.traffic import InterfaceRow, InterfaceTable

MAX_NODES: Final = 64  # nodes kept apart; records of more are counted and dropped
NODE_SEP: Final = "/"  # an interface of a node is shown as NODE/NAME


def node_of(rec: dict[str, Any]) -> str | None:
    """The node a record names, or None (a single stream)."""
    node = rec.get("node")
    return node[:MAX_IFNAME] if type(node) is str and node else None


class NodeInterfaces(InterfaceTable):
    """Each node's interfaces, listed as NODE/NAME: node by node, its captured one first."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, InterfaceTable] = {}

    def clear(self) -> None:
        super().clear()
        for table in self.nodes.values():
            table.clear()

    def __len__(self) -> int:
        return super().__len__() + sum(len(t) for t in self.nodes.values())

    def ingest(self, rec: dict[str, Any]) -> tuple[float, float] | None:
        node = node_of(rec)
        if node is None:
            return super().ingest(rec)
        table = self.nodes.get(node)
        if table is None:
            if len(self.nodes) >= MAX_NODES:
                self.dropped += 1
                return None
            table = self.nodes[node] = InterfaceTable()
        before = (table.damaged, table.dropped)
        rates = table.ingest(_prefixed(rec, node))
        self.damaged += table.damaged - before[0]
        self.dropped += table.dropped - before[1]
        self.ts = max(self.ts, table.ts)
        return rates

    def rows(self) -> list[InterfaceRow]:
        out: list[InterfaceRow] = []
        for node in sorted(self.nodes):
            out += self.nodes[node].rows()
        return out + super().rows()

    def get(self, name: str) -> InterfaceRow | None:
        node = name.split(NODE_SEP, 1)[0]
        table = self.nodes.get(node)
        hit = table.get(name) if table is not None else None
        return hit if hit is not None else super().get(name)


def _prefixed(rec: dict[str, Any], node: str) -> dict[str, Any]:
    """``rec`` with its interface names as NODE/NAME (a new record: records are never mutated)."""
    out = dict(rec)
    ifaces = rec.get("ifaces")
    if isinstance(ifaces, list):
        out["ifaces"] = [
            {**e, "name": f"{node}{NODE_SEP}{e['name']}"}
            if isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"]
            else e
            for e in ifaces
        ]
    captured = rec.get("captured")
    out["captured"] = f"{node}{NODE_SEP}{captured}" if isinstance(captured, str) else None
    return out


class NodeJoiner:
    """A socket joiner per node: ``add`` and ``annotate`` go to the record's node's own."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.single: Any = make()  # records without a node (one stream)
        self.nodes: dict[str, Any] = {}

    def _for(self, rec: dict[str, Any]) -> Any:
        node = node_of(rec)
        if node is None:
            return self.single
        joiner = self.nodes.get(node)
        if joiner is None:
            if len(self.nodes) >= MAX_NODES:
                return None
            joiner = self.nodes[node] = self.make()
        return joiner

    def add(self, rec: dict[str, Any]) -> None:
        joiner = self._for(rec)
        if joiner is None:
            raise ValueError("too many nodes")
        joiner.add(rec)

    def annotate(self, rec: dict[str, Any]) -> None:
        joiner = self._for(rec)
        if joiner is not None:
            joiner.annotate(rec)
