"""A finite input is shown whole: every connection kept (to the cap) and listed without a key.

The 60 s history of closed connections (dropped after that much stream time, shown only
with ``t``) is a rule of live input. A file, or a stream whose header says it is not live
(``rn-capture -r`` writes ``live: false``), keeps them all.
"""

from __future__ import annotations

from typing import Any

from rustnet.view.model import ConnTable, Row
from rustnet.view.render import status_text
from rustnet.view.state import ViewState

from tests.tui.records import conn, header


def merged_capture() -> list[dict[str, Any]]:
    """As ndpi_ssh.pcap: a connection of 2011 that timed out, then one of 2024 (13 years on)."""
    return [
        conn(1, last_seen=1320435464.0),
        conn(1, last_seen=1320435713.0, state="TIME_WAIT", final=True, end="timeout"),
        conn(2, last_seen=1720684522.0),
        conn(2, last_seen=1720684524.0, final=True, end="eof"),
    ]


def live_header() -> dict[str, Any]:
    return {**header(), "live": True}


def shown_ids(table: ConnTable) -> list[Any]:
    return sorted(e.id for e in ViewState(table).entries() if isinstance(e, Row))


def test_a_file_keeps_and_lists_what_ended_long_before_its_end() -> None:
    for table in (ConnTable(finite=True), ConnTable()):  # told, or told by the header (live: false)
        table.ingest([header() if table.finite is None else live_header(), *merged_capture()])
        assert table.whole and table.in_history(table.rows[1])
        assert shown_ids(table) == [1, 2]  # no key pressed
        assert table.expired == 0
        assert "1 closed shown" in status_text(ViewState(table))


def test_live_input_keeps_history_for_60_s_of_stream_time() -> None:
    for table in (ConnTable(), ConnTable(finite=False)):
        table.ingest([live_header() if table.finite is None else header(), *merged_capture()])
        assert not table.whole
        assert sorted(table.rows) == [2] and table.expired == 1


def test_history_shown_only_with_t_when_live() -> None:
    table = ConnTable()
    table.ingest([live_header(), conn(1), conn(2), conn(1, state="CLOSED", final=True, end="timeout")])
    state = ViewState(table)
    assert [e.id for e in state.entries() if isinstance(e, Row)] == [2]
    state.toggle_closed()
    assert sorted(e.id for e in state.entries() if isinstance(e, Row)) == [1, 2]


def test_a_file_is_still_bounded_by_the_cap() -> None:
    table = ConnTable(max_rows=100, finite=True)
    table.ingest([header()])
    table.ingest([conn(i, last_seen=1000.0 + i, final=True, end="timeout") for i in range(150)])
    table.ingest([conn(1000 + i, last_seen=2000.0 + i) for i in range(50)])
    assert len(table.rows) <= 100 and table.evicted >= 50
    assert all(1000 + i in table.rows for i in range(50))  # history went first, the open ones stay
