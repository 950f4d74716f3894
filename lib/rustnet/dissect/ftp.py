"""FTP control connections (RFC 959 §4, §5.4): the commands a client sends and the replies.

A command is a word of 3 or 4 letters, then its argument; a reply is a 3-digit code then a
space (the last or only line) or a hyphen (the first line of several), then text. The lines
come from the inspector's text-line reader, one at a time and bounded there.

    info = line_info(b"USER anonymous")   # {"ftp_command": "USER anonymous", "ftp_user": ...}
    ftp_only(b"PASV")                     # True: no other common text protocol says this
"""

from __future__ import annotations

from typing import Final

from rustnet.dissect.safe_text import escape_text

PORT: Final = 21
MAX_TEXT: Final = 255  # characters kept of an argument or a reply's text
# Commands only FTP sends (USER, RETR, LIST… are also POP3's, IMAP's or NNTP's).
_FTP_ONLY: Final = frozenset(
    (b"PASV", b"EPSV", b"EPRT", b"PORT", b"STOR", b"STOU", b"APPE", b"CWD", b"CDUP", b"PWD")
    + (b"XPWD", b"SYST", b"MKD", b"RMD", b"SIZE", b"MDTM", b"NLST", b"RNFR", b"RNTO", b"TYPE")
)
_SECRET: Final = frozenset((b"PASS", b"ACCT"))


def _command(line: bytes) -> tuple[bytes, bytes] | None:
    """The command word (upper case) and its argument, or None when line is no command."""
    word, _, arg = line.partition(b" ")
    if not 3 <= len(word) <= 4 or not word.isalpha():
        return None
    return word.upper(), arg.strip()


def ftp_only(line: bytes) -> bool:
    """Whether line is a command no other common text protocol uses."""
    cmd = _command(line.rstrip(b"\r"))
    return cmd is not None and cmd[0] in _FTP_ONLY


def _text(raw: bytes) -> str:
    return escape_text(raw, MAX_TEXT)


def line_info(line: bytes) -> dict[str, str] | None:
    """The fields one control line (without its LF) carries, or None for a line of no note."""
    line = line.rstrip(b"\r")
    if len(line) >= 4 and line[:3].isdigit() and line[3:4] in (b" ", b"-"):
        code = line[:3].decode()
        message = line[4:].strip()
        out = {"ftp_reply": f"{code} {_text(message)}".rstrip()}
        if code == "220" and message:
            # The server's software is the banner's first word, e.g. "(vsFTPd 3.0.3)".
            out["ftp_server"] = _text(message.split()[0].strip(b"()"))
        elif code == "215" and message:
            out["ftp_system"] = _text(message)
        return out
    cmd = _command(line)
    if cmd is None:
        return None
    word, arg = cmd
    if word in _SECRET:
        return {"ftp_command": word.decode()}  # a password is never shown
    out = {"ftp_command": f"{word.decode()} {_text(arg)}".rstrip()}
    if word == b"USER" and arg:
        out["ftp_user"] = _text(arg)
    return out
