"""Each stage's sandbox: what it may still touch once started, applied with Landlock, and the
resulting state as RustNet words it (Fully enforced, Partially enforced, Not applied, Error).

A stage calls :func:`apply` once everything it opens by name is open and every module it
will use is imported, before it starts a thread (threads inherit the restriction only when
started after it). What each stage keeps:

- every stage: Python's own library directories (read only: modules such as DPI's QUIC
  decryption are imported when first needed, which keeps every start fast).
- rn-dissect, rn-track: nothing else (their input and output are open; input files named on
  the command line, read only), no TCP. rn-track ``--enrich`` (names for a capture file's
  records in its process, as rn-enrich --no-process --no-resolve-dns) also reads the
  name-service files and the GeoIP and OUI directories.
- rn-capture: the interface counters (/sys/class/net and /sys/devices, read), no TCP.
- rn-enrich: /proc, /sys/class/net, /sys/devices, the account and name-service files, the
  GeoIP and OUI directories (read); TCP connect to port 53 only with reverse DNS.
- rn-view: the terminal (/dev/tty) and nothing else; the clipboard helpers cannot run.
- rn-export: nothing; TCP connect only to the collector's port with --tcp (UDP is not
  restricted by Landlock).

Modes: best effort (the default: degrade and say so), ``strict`` (anything short of Fully
enforced is an error exit), ``off`` (--no-sandbox: nothing applied).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from typing import Any, Final

from rustnet import caps, landlock

FULL: Final = "Fully enforced"
PARTIAL: Final = "Partially enforced"
NOT_APPLIED: Final = "Not applied"
ERROR: Final = "Error"
STATES: Final = (FULL, PARTIAL, NOT_APPLIED, ERROR)

BEST_EFFORT: Final = "best-effort"
STRICT: Final = "strict"
OFF: Final = "off"

# Read-only, for rn-enrich's name lookups through the C library.
NAME_SERVICE_FILES: Final = (
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
)
# Where GeoIP databases are looked for, and the IEEE OUI list for MAC vendors.
GEOIP_DIRS: Final = (
    "/usr/share/GeoIP",
    "/var/lib/GeoIP",
    "/usr/local/share/GeoIP",
    "/opt/homebrew/share/GeoIP",
)
DATA_DIRS: Final = ("/usr/share/ieee-data",)
# The C library loads name-service modules (libnss_*.so) the first time it needs one.
NSS_LIBRARY_DIRS: Final = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
)
TERMINFO_DIRS: Final = ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo")
SYSFS_NET: Final = ("/sys/class/net", "/sys/devices")
DNS_PORT: Final = 53


class SandboxError(Exception):
    """--sandbox-strict and the sandbox is not fully enforced (or Landlock failed)."""


class Status:
    """The sandbox state of this process, for the stream header and the viewer."""

    __slots__ = ("state", "abi", "features", "reason")

    def __init__(self, state: str, abi: int, features: list[str], reason: str = "") -> None:
        self.state = state
        self.abi = abi  # the kernel's Landlock ABI, 0 when it has none
        self.features = features  # RustNet's bullets: FS restricted, Net blocked, ...
        self.reason = reason  # why it is not fully enforced

    def as_record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "abi": self.abi, "features": list(self.features)}
        if self.reason:
            out["reason"] = self.reason
        return out

    def lines(self) -> list[str]:
        """``Sandbox: Fully enforced · Landlock ABI v7``, then the bullets (``FS restricted, Net
        blocked, ...`` or ``No restrictions active``), then why it is not fully enforced."""
        landlock_text = f"Landlock ABI v{self.abi}" if self.abi else "Landlock: kernel unsupported"
        out = [f"Sandbox: {self.state} · {landlock_text}"]
        out.append(", ".join(self.features) if self.features else "No restrictions active")
        if self.reason:
            out.append(self.reason)
        return out


status: Status | None = None  # set by apply(); None: this process applied no sandbox


def mode_of(no_sandbox: bool, strict: bool) -> str:
    return OFF if no_sandbox else STRICT if strict else BEST_EFFORT


def _listing(paths: tuple[str, ...], prefix: str) -> list[str]:
    out: list[str] = []
    for d in paths:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out += [os.path.join(d, n) for n in names if n.startswith(prefix)]
    return out


def terminfo_of_user() -> list[str]:
    """The terminal descriptions the user points to ($TERMINFO, $TERMINFO_DIRS, ~/.terminfo)."""
    out = [os.path.expanduser("~/.terminfo")]
    out += [os.environ.get("TERMINFO", "")] + os.environ.get("TERMINFO_DIRS", "").split(":")
    return [p for p in out if p and os.path.isabs(p)]


@functools.cache
def python_library_dirs() -> list[str]:
    """Where this interpreter imports from: its standard library and site directories, and
    our own packages (not the current directory, nor a script's)."""
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    out = {p for p in sys.path if p and os.path.isabs(p) and p.startswith(prefixes)}
    for package in ("rustnet", "rustnet_cmds"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            out.add(os.path.dirname(spec.origin))
    from rustnet import _compiled

    if _compiled.compiled:  # the compiled modules in use: their tree (modules load when first needed)
        out.add(_compiled.tree_dir())
    return sorted(out)


def rules_for(
    stage: str,
    reverse_dns: bool = False,
    extra_read: tuple[str, ...] = (),
    children: bool = False,
    connect_ports: tuple[int, ...] = (),
    names: bool = False,
) -> landlock.Ruleset:
    """What ``stage`` keeps (see the module's text); ``children``: it has started processes it
    must still be able to stop (signals to them stay allowed); ``names``: it adds services,
    hostnames and GeoIP to records (rn-enrich, rn-track --enrich)."""
    rules = landlock.Ruleset()
    rules.scope_signals = not children
    rules.read += python_library_dirs()
    if names or stage == "rn-enrich":
        home = os.path.expanduser("~")
        geoip_home = [
            os.path.join(home, ".local/share/GeoIP"),
            os.path.join(home, ".local/share/rustnet/geoip"),
        ]
        rules.read += [*NAME_SERVICE_FILES, *GEOIP_DIRS, *geoip_home, *DATA_DIRS]
        rules.read += _listing(NSS_LIBRARY_DIRS, "libnss_")
    if stage == "rn-capture":
        rules.read += SYSFS_NET
    elif stage == "rn-enrich":
        rules.read += ["/proc", *SYSFS_NET]
        if reverse_dns:
            rules.connect_ports.append(DNS_PORT)  # a truncated answer is asked again over TCP
    elif stage == "rn-view":
        rules.devices += ["/dev/tty"]
        rules.read += list(TERMINFO_DIRS) + terminfo_of_user()
    rules.read += list(extra_read)
    rules.connect_ports += list(connect_ports)
    return rules


def _warm_up() -> None:
    """Look up now what a stage without /etc/passwd still names later: its own user, in the
    header's privileges (Python modules stay importable: their directories are readable)."""
    caps.user_name(os.geteuid())


def apply(
    stage: str,
    mode: str,
    uid_dropped: bool = False,
    reverse_dns: bool = False,
    extra_read: tuple[str, ...] = (),
    children: bool = False,
    impossible: str = "",
    connect_ports: tuple[int, ...] = (),
    names: bool = False,
) -> Status:
    """Restrict this process as ``stage`` in ``mode``; the resulting :data:`status`.

    ``impossible``: why this run cannot be restricted (it must still start programs, say).
    Raises SandboxError in strict mode when the result is not Fully enforced."""
    global status
    caps.no_new_privs()  # always, as RustNet: also with --no-sandbox
    _warm_up()
    caps.freeze()  # /proc/self/status may be out of reach from now on: remember what it says
    held = caps.current()
    base = ["No new privs"] if held.no_new_privs else []
    if uid_dropped:
        base.insert(0, "Root UID dropped")
    if stage == "rn-capture" and not held.effective >> caps.CAP_NET_RAW & 1 and held.uid != 0:
        base.insert(0, "CAP_NET_RAW dropped")
    if mode == OFF:
        status = Status(NOT_APPLIED, landlock.kernel_abi(), base, "--no-sandbox")
        return status
    abi = landlock.kernel_abi()
    if impossible:
        status = Status(NOT_APPLIED, abi, base, impossible)
        if mode == STRICT:
            raise SandboxError(f"--sandbox-strict: sandbox not applied: {impossible}")
        return status
    try:
        rules = rules_for(stage, reverse_dns, extra_read, children, connect_ports, names)
        applied = landlock.restrict(rules, abi)
    except (landlock.LandlockError, OSError) as exc:
        status = Status(ERROR, abi, base, f"Landlock failed: {exc}")
    else:
        features = (
            (["FS restricted"] if applied.fs else [])
            + (["Net blocked"] if applied.net else [])
            + (["IPC scoped"] if applied.scoped else [])
        )
        if not applied.fs:
            status = Status(NOT_APPLIED, abi, base, "the kernel has no Landlock")
        elif applied.net and applied.scoped:
            status = Status(FULL, abi, features + base)
        else:
            missing = [w for w, ok in (("TCP", applied.net), ("IPC scoping", applied.scoped)) if not ok]
            status = Status(
                PARTIAL, abi, features + base, f"Landlock ABI v{abi} cannot restrict {' or '.join(missing)}"
            )
    if mode == STRICT and status.state != FULL:
        raise SandboxError(f"--sandbox-strict: sandbox {status.state.lower()}: {status.reason}")
    return status


def describe_entry(entry: Any) -> list[str] | None:
    """A header ``privs`` entry's ``sandbox`` map in words, as :meth:`Status.lines` (None when
    absent or malformed)."""
    if not isinstance(entry, dict):
        return None
    state = entry.get("state")
    if state not in STATES:
        return None
    abi = entry.get("abi")
    features = entry.get("features")
    reason = entry.get("reason")
    return Status(
        str(state),
        abi if isinstance(abi, int) and 0 <= abi < 1000 else 0,
        [f[:40] for f in features[:12] if isinstance(f, str)] if isinstance(features, list) else [],
        reason[:200] if isinstance(reason, str) else "",
    ).lines()


def clipboard_blocked() -> bool:
    """True when Landlock keeps this process from running a clipboard helper."""
    return status is not None and status.state in (FULL, PARTIAL)
