"""Write starttls.pcap: real STARTTLS upgrades recorded on loopback in a network namespace.

A small responder (this script, Python's ssl module, a throwaway self-signed key) speaks
SMTP (port 25, RFC 3207), IMAP (143, RFC 2595/3501), POP3 (110, RFC 2595) and FTP (21, AUTH
TLS, RFC 4217) up to the upgrade, then completes a TLS handshake; the client is OpenSSL's
``openssl s_client -starttls smtp|imap|pop3|ftp -servername NAME -alpn NAME``. tcpdump
records the namespace's loopback. Needs root; run from the repository root:

    python tests/data/made/make_starttls.py
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(__file__).with_name("starttls.pcap")
NS = f"rnstls{os.getpid()}"

# (openssl's -starttls name, port, SNI the client sends, ALPN it offers)
CASES = [
    ("smtp", 25, "mail.example.net", "smtp"),
    ("imap", 143, "imap.example.org", "imap"),
    ("pop3", 110, "pop.example.com", "pop3"),
    ("ftp", 21, "ftp.example.test", "ftp"),
]


def serve(kind: str, ls: socket.socket, ctx: ssl.SSLContext) -> None:
    conn, _ = ls.accept()
    f = conn.makefile("rb")

    def say(text: str) -> None:
        conn.sendall(text.encode() + b"\r\n")

    if kind == "smtp":
        say("220 mail.example.net ESMTP ready")
        while True:
            line = f.readline().strip().upper()
            if line.startswith(b"EHLO"):
                say("250-mail.example.net")
                say("250-PIPELINING")
                say("250 STARTTLS")
            elif line == b"STARTTLS":
                say("220 2.0.0 Ready to start TLS")
                break
    elif kind == "imap":
        say("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready")
        while True:
            tag, _, cmd = f.readline().strip().partition(b" ")
            if cmd.upper() == b"CAPABILITY":
                say("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED")
                say(f"{tag.decode()} OK CAPABILITY completed")
            elif cmd.upper() == b"STARTTLS":
                say(f"{tag.decode()} OK Begin TLS negotiation now")
                break
    elif kind == "pop3":
        say("+OK POP3 ready")
        while True:
            line = f.readline().strip().upper()
            if line == b"CAPA":
                say("+OK")
                say("STLS")
                say(".")
            elif line == b"STLS":
                say("+OK Begin TLS negotiation")
                break
    else:
        say("220 ftp.example.test FTP ready")
        while True:
            line = f.readline().strip().upper()
            if line.startswith(b"AUTH"):
                say("234 AUTH TLS successful")
                break
            say("500 unknown")
    tls = ctx.wrap_socket(conn, server_side=True)
    tls.sendall(b"hello\r\n")
    time.sleep(0.3)
    tls.close()
    ls.close()


def in_namespace() -> None:
    tmp = Path(tempfile.mkdtemp())
    key, cert = tmp / "k.pem", tmp / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=example"],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["smtp", "imap", "pop3", "ftp"])
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", str(OUT), "tcp"],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    for kind, port, sni, alpn in CASES:
        ls = socket.create_server(("127.0.0.1", port))
        t = threading.Thread(target=serve, args=(kind, ls, ctx))
        t.start()
        subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", kind]
            + ["-servername", sni, "-alpn", alpn, "-tls1_3", "-quiet"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        )
        t.join(10)
    time.sleep(0.5)
    dump.terminate()
    dump.wait()
    for p in (key, cert):
        p.unlink()
    tmp.rmdir()


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
