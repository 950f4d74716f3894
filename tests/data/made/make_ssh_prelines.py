"""Write ssh-prelines.pcap: a real OpenSSH client against servers that send lines first.

A small server (this script) sends N lines with CR LF, then its identification
``SSH-2.0-Lines_N`` and waits; the client is ``ssh`` (OpenSSH), which reads the identification
among the first 1024 lines, each of up to 8192 bytes (kex.c). N lines of SIZE bytes with
their CR LF: 50 of 255, 1000 of 10, 1023 of 3 and one of 8194 (accepted), 1024 of 3 (OpenSSH
gives up, and so must we). tcpdump records a namespace's loopback. Needs root; run
from the repository root:

    python tests/data/made/make_ssh_prelines.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

OUT = Path(__file__).with_name("ssh-prelines.pcap")
NS = f"rnsshl{os.getpid()}"
CASES = [(50, 255), (1000, 10), (1023, 3), (1, 8194), (1024, 3)]  # (lines, bytes each)


def serve(ls: socket.socket, lines: int, size: int) -> None:
    conn, _ = ls.accept()
    line = b"x" * (size - 2) + b"\r\n"
    conn.sendall(line * lines + b"SSH-2.0-Lines_%d\r\n" % lines)
    conn.settimeout(2.0)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()
    ls.close()


def in_namespace() -> None:
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", str(OUT), "tcp"]
    )
    time.sleep(1.0)
    for i, (lines, size) in enumerate(CASES):
        port = 2200 + i
        ls = socket.create_server(("127.0.0.1", port))
        t = threading.Thread(target=serve, args=(ls, lines, size))
        t.start()
        got = subprocess.run(
            ["ssh", "-p", str(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
            + ["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3", "u@127.0.0.1", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        )
        print(port, got.returncode, got.stderr.decode()[-200:], file=sys.stderr)
        t.join(10)
    time.sleep(0.5)
    dump.terminate()
    dump.wait()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        in_namespace()
        return
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", NS, sys.executable, __file__, "--inside"], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    os.chmod(OUT, 0o644)


if __name__ == "__main__":
    main()
