"""The PRIVILEGES lines of the viewer's Help come from the stream header: hostile headers too."""

from __future__ import annotations

from rustnet.view.model import ConnTable
from rustnet.view.render import help_entries
from rustnet.view.state import ViewState


def test_hostile_privileges_in_a_header_are_escaped_and_bounded() -> None:
    evil = {
        "stage": "rn-\x1b[2Jx",
        "user": "\x1b]52;c;QUFB\x07",
        "uid": 0,
        "caps": ["cap_\x1b[31mred", 7, None],
    }
    table = ConnTable()
    table.ingest([{"t": "hdr", "v": 1, "privs": [evil] * 10_000 + ["junk", {"stage": 5}, {"user": "x"}]}])
    entries = help_entries(ViewState(table))
    section = entries[entries.index(("Privileges", "")) + 1 :]
    from_stream = [(k, v) for k, v in section if k and k != "viewer"]
    assert 1 <= len(from_stream) <= 16  # a screenful at most, whatever the header holds
    for key, value in section:
        assert not any(ord(c) < 0x20 or c == "\x7f" for c in key + value), (key, value)
    assert all(len(k) + len(v) < 1200 for k, v in from_stream)
    assert section[-1][0] == "viewer" and ", " in section[-1][1]  # our own line, from /proc/self
