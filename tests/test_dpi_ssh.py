"""SSH identification strings and handshake progress."""

from __future__ import annotations

import pytest
from rustnet.dissect import ssh
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.errors import DissectError

from tests.dpi_samples import ssh_packet

CLI = bytes([10, 1, 1, 1])
SRV = bytes([10, 1, 1, 2])
CLIENT_ID = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
SERVER_ID = b"SSH-2.0-dropbear_2022.83\r\n"


def test_banner_and_rest() -> None:
    data = CLIENT_ID + b"\x00\x00\x01"
    assert ssh.parse_banner(data) == ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", len(CLIENT_ID))


def test_server_lines_before_identification() -> None:
    data = b"Welcome\r\nno ssh here\r\n" + SERVER_ID
    banner, used = ssh.parse_banner(data, server=True) or ("", 0)
    assert banner == "SSH-2.0-dropbear_2022.83" and used == len(data)
    with pytest.raises(DissectError):
        ssh.parse_banner(data, server=False)


def test_need_more_and_errors() -> None:
    assert ssh.parse_banner(b"SSH-2.0-Open") is None
    with pytest.raises(DissectError):
        ssh.parse_banner(b"SSH-" + b"x" * 300)
    with pytest.raises(DissectError):
        ssh.parse_banner(b"SSH-\r\n")


def test_banner_escape() -> None:
    got = ssh.parse_banner(b"SSH-2.0-evil\x1b[31m\r\n")
    assert got is not None and got[0] == "SSH-2.0-evil\\x1b[31m"


def test_inspector_banners_and_stages() -> None:
    insp = Inspector()
    seen: dict[str, object] = {}
    stages = []

    def feed(from_client: bool, data: bytes) -> None:
        if from_client:
            info = insp.inspect(6, CLI, 51000, SRV, 22, data, 0.0)
        else:
            info = insp.inspect(6, SRV, 22, CLI, 51000, data, 0.0)
        if info:
            seen.update(info)
            if "ssh_stage" in info:
                stages.append(info["ssh_stage"])

    feed(False, SERVER_ID)
    feed(True, CLIENT_ID + ssh_packet(20, bytes(100)))
    # a KEXINIT split across two segments of the server
    kex = ssh_packet(20, bytes(300))
    feed(False, kex[:3])
    feed(False, kex[3:] + ssh_packet(31, bytes(40)))
    feed(True, ssh_packet(30, bytes(32)))
    feed(True, ssh_packet(21))
    feed(False, ssh_packet(21) + b"\xaa" * 40)  # NEWKEYS, then already encrypted bytes
    for _ in range(6):  # ESTABLISHED_PACKETS, written out
        feed(True, b"\xbb" * 60)
        feed(False, b"\xcc" * 60)
    assert seen["ssh_client"] == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
    assert seen["ssh_server"] == "SSH-2.0-dropbear_2022.83"
    assert stages == ["kex", "auth", "established"]
    assert not insp.wants(6, CLI, 51000, SRV, 22)


def test_ssh_on_other_port_server_is_lower_port() -> None:
    insp = Inspector()
    a = insp.inspect(6, CLI, 40000, SRV, 2222, CLIENT_ID, 0.0)
    b = insp.inspect(6, SRV, 2222, CLI, 40000, SERVER_ID, 0.0)
    assert a == {"app": "SSH", "ssh_client": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"}
    assert b == {"app": "SSH", "ssh_server": "SSH-2.0-dropbear_2022.83"}
