"""Run as a program by tests/test_sandbox.py: apply a stage's sandbox with the very function the
stage calls, then try what the sandbox must stop (and what it must leave) and print the outcome.

    python tests/sandbox_probe.py STAGE MODE [--reverse-dns] [--names] [--port=N] ATTEMPT...

ATTEMPT is read:PATH, list:DIR, write:PATH, connect:PORT, bind:PORT, resolve:IP, user:UID,
signal:PID, abstract:NAME or exec:PATH; each prints
one JSON line {"attempt": ..., "errno": name or null}, after a first line with the status.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys

from rustnet import sandbox


def attempt(what: str) -> str | None:
    kind, _, arg = what.partition(":")
    try:
        if kind == "read":
            with open(arg, "rb") as fh:
                fh.read(1)
        elif kind == "list":
            os.listdir(arg)
        elif kind == "write":
            fd = os.open(arg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
        elif kind in ("connect", "bind"):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                if kind == "connect":
                    s.settimeout(2)
                    s.connect(("127.0.0.1", int(arg)))
                else:
                    s.bind(("127.0.0.1", int(arg)))
        elif kind == "resolve":  # a reverse lookup through the C library (nsswitch, /etc/hosts)
            socket.gethostbyaddr(arg)
        elif kind == "user":  # the account database (nsswitch, /etc/passwd)
            import pwd

            pwd.getpwuid(int(arg))
        elif kind == "signal":  # signal 0: only whether we may signal that process
            os.kill(int(arg), 0)
        elif kind == "abstract":  # an abstract unix socket someone outside listens on
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect("\0" + arg)
        elif kind == "exec":
            subprocess.run([arg], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            raise SystemExit(f"unknown attempt {what}")
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    except KeyError:  # pwd: no such user (or the database out of reach)
        return "KeyError"
    return None


def main() -> None:
    stage, mode, *rest = sys.argv[1:]
    reverse_dns = "--reverse-dns" in rest
    ports = tuple(int(w.split("=", 1)[1]) for w in rest if w.startswith("--port="))
    names = "--names" in rest  # rn-track --enrich
    status = sandbox.apply(stage, mode, reverse_dns=reverse_dns, connect_ports=ports, names=names)
    print(json.dumps(status.as_record()), flush=True)
    for what in rest:
        if not what.startswith("--"):
            print(json.dumps({"attempt": what, "errno": attempt(what)}), flush=True)


if __name__ == "__main__":
    main()
