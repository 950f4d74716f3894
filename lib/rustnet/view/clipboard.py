"""Copy text to the clipboard: OSC 52 through the terminal, plus a system clipboard tool.

OSC 52 asks the terminal itself to set the clipboard, so it works over ssh and in
tmux (with ``set-clipboard on``); whether the terminal honours it cannot be known, so
the status message says it was *sent*. A system tool (wl-copy, xclip, xsel, pbcopy)
is used as well when one exists and a display is there for it.

Only text that validates as an address (``ip:port``, ``[ip6]:port``) or a DNS host name is
copied with ``c``: the remote end comes from records, which a hostile recording fills with
newlines, shell commands and escape sequences meant for the clipboard's next paste. A
Details value the user clicks is copied as printable ASCII on one line, or not at all.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Final

TOOLS: Final = (
    ("wl-copy", ("wl-copy",), "WAYLAND_DISPLAY"),
    ("xclip", ("xclip", "-selection", "clipboard"), "DISPLAY"),
    ("xsel", ("xsel", "--clipboard", "--input"), "DISPLAY"),
    ("pbcopy", ("pbcopy",), None),
)
MAX_OSC52: Final = 100_000  # terminals cap the sequence; addresses are tiny anyway
# What an IP address may be spelt with (ipaddress accepts any text as an IPv6 scope id).
_IP_CHARS: Final = re.compile(r"[0-9A-Fa-f.:]+(%[0-9A-Za-z._-]{1,64})?")
_DNS_LABEL: Final = re.compile(r"(?!-)[0-9A-Za-z_-]{1,63}(?<!-)")
# The only characters that may reach the clipboard (OSC 52 or a tool): printable ASCII.
_CLIPPABLE: Final = re.compile(r"[\x21-\x7e]{1,300}")
# A Details value clicked for copying may hold spaces ("443 (https)"), still nothing else.
_CLIPPABLE_VALUE: Final = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,299}")
NOT_COPYABLE_VALUE: Final = "not copied: only printable ASCII values are copied"
NOT_COPYABLE: Final = "not copied: the remote end is not a valid address or host name"
SANDBOXED: Final = "Clipboard unavailable (sandbox active). Use --no-sandbox to enable."


def _is_ip(addr: str) -> bool:
    if _IP_CHARS.fullmatch(addr) is None:
        return False
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return True


def is_host_name(name: str) -> bool:
    """A syntactically valid DNS name (RFC 1035 lengths; ``_`` allowed as in service names)."""
    name = name.removesuffix(".")
    return 0 < len(name) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in name.split("."))


def clip_text(addr: str, port: int) -> str | None:
    """``addr:port`` (``[addr]:port`` for IPv6; no port when 0) if both validate, else None."""
    if not 0 <= port <= 65535:
        return None
    if _is_ip(addr):
        host = f"[{addr}]" if ":" in addr else addr
    elif is_host_name(addr) and not addr.replace(".", "").isdigit():
        host = addr
    else:
        return None
    return f"{host}:{port}" if port else host


def osc52(text: str) -> str:
    """The escape sequence that asks the terminal to put ``text`` on the clipboard."""
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    seq = f"\x1b]52;c;{data}\x07"
    if os.environ.get("TMUX"):
        # tmux passes it on to the outer terminal when wrapped in its DCS passthrough.
        seq = "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return seq if len(seq) <= MAX_OSC52 else ""


def usable_tools() -> list[tuple[str, tuple[str, ...]]]:
    """The system tools that exist here and have a display to talk to, in order of preference."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for name, argv, display_var in TOOLS:
        if display_var is not None and not os.environ.get(display_var):
            continue
        if shutil.which(argv[0]) is not None:
            out.append((name, argv))
    return out


def system_copy(text: str) -> str | None:
    """Copy with the first usable system tool; its name, or None when there is none or it failed."""
    for name, argv in usable_tools():
        try:
            proc = subprocess.run(
                argv,
                input=text.encode("utf-8"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=2,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if proc.returncode == 0:
            return name
    return None


def sandboxed() -> bool:
    """True when Landlock keeps this viewer from running a clipboard tool."""
    sandbox = sys.modules.get("rustnet.sandbox")  # loaded only when this viewer applied one
    return sandbox is not None and sandbox.clipboard_blocked()


def copy(text: str, write_terminal: Callable[[str], None] | None, label: str | None = None) -> str:
    """Copy ``text`` both ways; returns the status message that says what happened.

    ``write_terminal`` is a callable taking the escape sequence (the app's tty writer).
    Anything but printable ASCII is refused here as well, whoever built ``text``; spaces only
    in a Details value (``label`` given: the field it came from, for the message).
    """
    if label is not None:
        if _CLIPPABLE_VALUE.fullmatch(text) is None:
            return NOT_COPYABLE_VALUE
    elif _CLIPPABLE.fullmatch(text) is None:
        return NOT_COPYABLE
    seq = osc52(text)
    sent = False
    if seq and write_terminal is not None:
        try:
            write_terminal(seq)
            sent = True
        except OSError:
            sent = False
    blocked = sandboxed()
    tool = None if blocked else system_copy(text)
    if blocked and not sent:
        return SANDBOXED
    how = []
    if sent:
        how.append("OSC 52 sent to the terminal")
    if tool:
        how.append(f"system clipboard via {tool}")
    kept_out = usable_tools() if blocked else []
    if kept_out:  # a tool would have run: say why it did not
        how.append(f"{kept_out[0][0]} blocked by the sandbox: --no-sandbox")
    if not how:
        return f"could not copy {text}: no terminal clipboard and no clipboard tool"
    if label is not None:
        return f"Copied: {label}: {text}"
    return f"copied {text} ({'; '.join(how)})"
