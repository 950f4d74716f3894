"""Socket tables: the /proc/net parsers on literal kernel lines, sock_diag against /proc, owners."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rustnet.enrich import newprocs, sockdiag
from rustnet.enrich.owners import SocketOwners
from rustnet.enrich.processes import ProcessInfoCache, scan_socket_inodes
from rustnet.enrich.sockets import (
    SockEntry,
    container_from_cgroup,
    container_of,
    decode_address,
    netns_inode,
    parse_table,
    read_tables,
)

# Lines as Linux 6.x prints them (a listener on ::1, a listener on ::ffff:127.0.0.1, a connected
# client, and an accepted socket still in the accept queue: inode 0).
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:A8C5 00000000000000000000000000000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 43797 2 00000000969f055b 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:ECE7 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 43799 1 00000000a509383f 100 0 0 10 0
   2: 00000000000000000000000001000000:EADE 00000000000000000000000001000000:A8C5 01 00000000:00000000 00:00000000 00000000  1000        0 43798 2 00000000b588a846 20 0 0 10 -1
   3: 00000000000000000000000001000000:A8C5 00000000000000000000000001000000:EADE 01 00000000:00000000 00:00000000 00000000     0        0 0 1 00000000bd6457da 20 0 0 10 -1
"""  # noqa: E501
TCP4 = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1162 1 000000005b6f7f1a 100 0 0 10 0
   1: 0100007F:B3A2 0200000A:01BB 01 00000000:00000000 02:000A7B2E 00000000    33        0 987654 2 0000000012345678 20 4 30 10 -1
"""  # noqa: E501
UDP4 = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
14025: 0100007F:18D1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 43800 2 00000000ad460e39 0
"""  # noqa: E501
LITTLE = sys.byteorder == "little"
needs_little = pytest.mark.skipif(not LITTLE, reason="literal lines were printed by a little-endian CPU")


@needs_little
def test_ipv4_hex_addresses() -> None:
    assert decode_address("0100007F", socket.AF_INET) == "127.0.0.1"
    assert decode_address("0200000A", socket.AF_INET) == "10.0.0.2"
    assert decode_address("00000000", socket.AF_INET) == "0.0.0.0"


@needs_little
def test_ipv6_hex_addresses() -> None:
    assert decode_address("00000000000000000000000001000000", socket.AF_INET6) == "::1"
    assert decode_address("0000000000000000FFFF00000100007F", socket.AF_INET6) == "::ffff:127.0.0.1"
    assert decode_address("000000FD000000000000000001000000", socket.AF_INET6) == "fd00::1"
    assert decode_address("B80D0120000000000000000001000000", socket.AF_INET6) == "2001:db8::1"


def test_bad_hex_is_an_error() -> None:
    for bad in ("0100007", "zz00007F", ""):
        with pytest.raises(ValueError):
            decode_address(bad, socket.AF_INET)
    with pytest.raises(ValueError):
        decode_address("00", socket.AF_INET6)


@needs_little
def test_parse_tcp6_literal_lines() -> None:
    rows = parse_table(TCP6, "tcp", socket.AF_INET6)
    assert rows == [
        SockEntry("tcp", "::1", 0xA8C5, "::", 0, 10, 0, 43797),
        SockEntry("tcp", "::ffff:127.0.0.1", 0xECE7, "::", 0, 10, 0, 43799),
        SockEntry("tcp", "::1", 0xEADE, "::1", 0xA8C5, 1, 1000, 43798),
        SockEntry("tcp", "::1", 0xA8C5, "::1", 0xEADE, 1, 0, 0),
    ]
    assert rows[0].listening and not rows[2].listening


@needs_little
def test_parse_tcp4_and_udp4_literal_lines() -> None:
    rows = parse_table(TCP4, "tcp", socket.AF_INET)
    assert rows[0] == SockEntry("tcp", "0.0.0.0", 2024, "0.0.0.0", 0, 10, 0, 1162)
    assert rows[1] == SockEntry("tcp", "127.0.0.1", 0xB3A2, "10.0.0.2", 443, 1, 33, 987654)
    (udp,) = parse_table(UDP4, "udp", socket.AF_INET)
    assert udp == SockEntry("udp", "127.0.0.1", 6353, "0.0.0.0", 0, 7, 0, 43800)
    assert udp.listening  # an unconnected UDP socket receives from anyone


def test_malformed_rows_are_skipped() -> None:
    text = TCP4 + "   2: garbage\n   3: 0100007F:XXXX 00000000:0000 0A 0 0 0 0 0 5\n\x00\x01\n"
    assert len(parse_table(text, "tcp", socket.AF_INET)) == 2
    assert parse_table("", "tcp", socket.AF_INET) == []


def _pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    lst = socket.socket(socket.AF_INET6)
    lst.bind(("::", 0))  # dual stack: IPv4 peers show as ::ffff:a.b.c.d
    lst.listen()
    cli = socket.create_connection(("127.0.0.1", lst.getsockname()[1]))
    acc, _ = lst.accept()
    return lst, cli, acc


def test_real_table_has_our_sockets_with_inodes() -> None:
    lst, cli, acc = _pair()
    try:
        rows = {r.inode: r for r in read_tables("/proc/self/net")}
        port = lst.getsockname()[1]
        assert rows[os.fstat(lst.fileno()).st_ino].lport == port
        c = rows[os.fstat(cli.fileno()).st_ino]
        want = ("127.0.0.1", cli.getsockname()[1], "127.0.0.1", port, 1)
        assert (c.local, c.lport, c.remote, c.rport, c.state) == want
        a = rows[os.fstat(acc.fileno()).st_ino]
        assert (a.local, a.rport) == ("::ffff:127.0.0.1", cli.getsockname()[1])
    finally:
        for s in (lst, cli, acc):
            s.close()


def test_sock_diag_agrees_with_proc() -> None:
    lst, cli, acc = _pair()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        diag = sockdiag.open_diag()
        mine = {os.fstat(s.fileno()).st_ino for s in (lst, cli, acc, udp)}
        from_proc = {r for r in read_tables("/proc/self/net") if r.inode in mine}
        from_diag = {r for r in sockdiag.dump(diag) if r.inode in mine}
        assert len(from_proc) == 4
        assert from_diag == from_proc
        # An exact query finds one socket by tuple, in microseconds.
        e = sockdiag.query(diag, "tcp", "127.0.0.1", cli.getsockname()[1], "127.0.0.1", lst.getsockname()[1])
        assert e is not None and e.inode == os.fstat(cli.fileno()).st_ino
        assert sockdiag.query(diag, "tcp", "127.0.0.1", 1, "127.0.0.1", 2) is None
        assert sockdiag.query(diag, "tcp", "not-an-ip", 1, "127.0.0.1", 2) is None
        diag.close()
    finally:
        for s in (lst, cli, acc, udp):
            s.close()


def test_fd_scan_finds_the_owner_of_an_inode() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0));"
            "s.listen();"
            "print(s.getsockname()[1], flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        (row,) = [r for r in read_tables("/proc/self/net") if r.lport == port and r.listening]
        res = scan_socket_inodes(
            {row.inode, 999_999_999}, sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        )
        assert res.found == {row.inode: child.pid}
        info = ProcessInfoCache().get(child.pid)
        assert info is not None and info.cmdline is not None and "socket" in info.cmdline
        assert info.user == "root" if os.geteuid() == 0 else info.user is not None
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.parametrize("use_diag", [True, False])
def test_owners_attribute_client_server_and_listener(use_diag: bool) -> None:
    lst, cli, acc = _pair()
    owners = SocketOwners(use_diag=use_diag)
    try:
        owners.refresh()
        port, cport = lst.getsockname()[1], cli.getsockname()[1]
        me = os.getpid()
        client = owners.lookup("tcp", "127.0.0.1", cport, "127.0.0.1", port)
        assert client is not None and client["pid"] == me and client["lport"] == cport
        server_side = owners.lookup("tcp", "10.9.9.9", 5555, "127.0.0.1", port)  # only the listener matches
        assert server_side is not None and server_side["listening"] and server_side["pid"] == me
        assert owners.lookup("tcp", "127.0.0.1", 1, "127.0.0.1", 2) is None
        assert owners.lookup("udp", "127.0.0.1", cport, "127.0.0.1", port) is None
        assert owners.built >= 3
        # A second poll builds no new records for sockets it knows: the same ones come back. (Not a
        # count of all records built: other processes, such as another test worker, open sockets
        # between the two polls.)
        owners.refresh()
        assert owners.lookup("tcp", "127.0.0.1", cport, "127.0.0.1", port) is client
        assert owners.lookup("tcp", "10.9.9.9", 5555, "127.0.0.1", port) is server_side
    finally:
        owners.close()
        for s in (lst, cli, acc):
            s.close()


def test_resolve_flow_finds_a_socket_newer_than_the_last_poll() -> None:
    owners = SocketOwners()
    owners.refresh()
    lst, cli, acc = _pair()
    try:
        flow = ("tcp", "127.0.0.1", cli.getsockname()[1], "127.0.0.1", lst.getsockname()[1])
        assert owners.lookup(*flow) is None
        refreshes = owners.refreshes
        sock, final = owners.resolve_flow(*flow)
        assert final and sock is not None and sock["pid"] == os.getpid()
        # Found by the exact sock_diag query for that one socket, not by listing them all again.
        assert owners.refreshes == refreshes
        assert sock["lport"] == cli.getsockname()[1]  # the connected socket, not the listener
    finally:
        owners.close()
        for s in (lst, cli, acc):
            s.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="copying another process's socket (pidfd_getfd) needs root")
def test_the_watchers_copy_of_a_programs_socket_never_makes_us_its_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The short-lived watcher reads a new program's socket through a copy in our own fd table.
    An owner lookup that meets the copy (the program has closed its end meanwhile, or after a
    pid wrap-around our pid is scanned before the program's) must not name us as the owner;
    the server end of the same connection, really ours, still is."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    port = lst.getsockname()[1]
    code = (
        f"import socket,sys; s=socket.create_connection(('127.0.0.1', {port}));"
        "print(s.getsockname()[1], flush=True); sys.stdin.readline(); s.close();"
        "print('closed', flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    held, release = threading.Event(), threading.Event()
    real_tuple = newprocs.socket_tuple

    def preempted(sock: socket.socket) -> tuple[str, str, int, str, int] | None:
        held.set()  # the watcher thread holds its copy here, as when the scheduler stops it
        release.wait(10)
        return real_tuple(sock)

    monkeypatch.setattr(newprocs, "socket_tuple", preempted)
    programs = newprocs.StartedPrograms(seconds=30)
    poller = threading.Thread(target=programs.poll, daemon=True)
    owners = SocketOwners(watch_interval=0)
    acc: socket.socket | None = None
    try:
        cport = int(child.stdout.readline())
        acc, _ = lst.accept()
        ino = netns_inode(child.pid)
        assert ino is not None
        programs.add(child.pid, ino)
        poller.start()
        assert held.wait(10), "the program's socket was not copied"
        child.stdin.write("close\n")
        child.stdin.flush()
        assert child.stdout.readline() == "closed\n"  # only our copy holds the socket now
        sock, _final = owners.resolve_flow("tcp", "127.0.0.1", cport, "127.0.0.1", port)
        assert sock is None or sock["pid"] != os.getpid()
        server_end = owners.lookup("tcp", "127.0.0.1", port, "127.0.0.1", cport)
        assert server_end is not None and server_end["pid"] == os.getpid() and server_end["rport"] == cport
    finally:
        release.set()
        if poller.is_alive() or poller.ident is not None:
            poller.join(timeout=10)
        programs.close()
        owners.close()
        for s in (lst, acc):
            if s is not None:
                s.close()
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()


def test_watcher_catches_a_socket_that_lives_between_two_polls(tmp_path: Path) -> None:
    """A process that connects, holds the socket 300 ms and exits is never seen by a 1 s poll;
    the watcher names it, and the owners index keeps it after the process is gone."""
    exe = tmp_path / "rn-blink-client"
    shutil.copy2(os.path.realpath(sys.executable), exe)
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    owners = SocketOwners(watch_interval=0.001)
    try:
        owners.refresh()
        deadline = time.monotonic() + 10
        while owners.watcher is not None and owners.watcher.passes < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # the watcher's first listing learns what exists already
        code = (
            f"import socket,time; s=socket.create_connection(('127.0.0.1', {lst.getsockname()[1]}));"
            "print(s.getsockname()[1]); time.sleep(0.3)"
        )
        child = subprocess.run([str(exe), "-c", code], capture_output=True, text=True, timeout=30)
        cport = int(child.stdout)
        time.sleep(0.05)
        assert owners.watcher is not None and owners.watcher.checks > 10
        sock = owners.lookup("tcp", "127.0.0.1", cport, "127.0.0.1", lst.getsockname()[1])
        assert sock is None or sock["process"] != "rn-blink-client"  # not yet absorbed
        owners.absorb_watch()
        sock = owners.lookup("tcp", "127.0.0.1", cport, "127.0.0.1", lst.getsockname()[1])
        assert sock is not None and sock["process"] == "rn-blink-client" and sock["lport"] == cport
        owners.refresh()  # the socket is gone now; it lingers in the index
        again = owners.lookup("tcp", "127.0.0.1", cport, "127.0.0.1", lst.getsockname()[1])
        assert again is not None and again["process"] == "rn-blink-client"
    finally:
        owners.close()
        lst.close()


def test_container_from_cgroup_lines() -> None:
    cid = "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
    docker_v1 = f"12:pids:/docker/{cid}\n1:name=systemd:/"
    docker_v2 = f"0::/system.slice/docker-{cid}.scope"
    podman = "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + "ab" * 32 + ".scope"
    k8s = (
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/cri-containerd-"
        + "cd" * 32
        + ".scope"
    )
    lxc = "0::/lxc.payload.web1"
    assert container_from_cgroup(docker_v1) == "docker:4f3c2a1b0e9d"
    assert container_from_cgroup(docker_v2) == "docker:4f3c2a1b0e9d"
    assert container_from_cgroup(podman) == "podman:abababababab"
    assert container_from_cgroup(k8s) == "containerd:cdcdcdcdcdcd"
    assert container_from_cgroup(lxc) == "lxc:web1"
    for plain in (
        "0::/",
        "0::/user.slice/user-0.slice/session-3.scope",
        "4:memory:/process_api/8894970fa0079c",
        "",
        "garbage",
    ):
        assert container_from_cgroup(plain) is None
    assert container_of(os.getpid()) is None or ":" in str(container_of(os.getpid()))
