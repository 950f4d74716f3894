"""Which user each stage runs as, and which capabilities it keeps.

Only the capture needs privileges (rn-capture drops them itself once its handle is
open). rn-dissect parses hostile packets and rn-track folds them into connections:
neither needs root, so under a root ``rustnet`` they run as ``nobody`` — when that
user can actually start our Python (a Python installed under /root, say, is not
readable by anyone else; then they stay root, without any capability, and rustnet
says so). rn-enrich stays root: it needs to see every process's sockets.

Every stage but rn-capture also gives up, as it starts, the capabilities it does not
need (:func:`confine`): a stage left root keeps none, rn-enrich keeps what reading
other processes' sockets takes, and a normal user's stages drop the ones a setcap
interpreter gives every script it runs. ``rustnet`` itself keeps only ``CAP_KILL``
(to stop stages that run as another user) once its stages are started.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

import rustnet
from rustnet import caps
from rustnet.cli.common import EXIT_USAGE, StageError

F = TypeVar("F", bound=Any)

UNPRIVILEGED_USER = "nobody"
# rn-enrich as root: list other users' /proc/PID/fd (dac_read_search), read those links and
# their /proc/PID/ns/net (sys_ptrace), enter other network namespaces for sock_diag
# (sys_admin, setns), hear of new programs from the process-events connector (net_admin).
ENRICH_KEEPS = caps.mask(
    caps.CAP_DAC_READ_SEARCH, caps.CAP_SYS_PTRACE, caps.CAP_SYS_ADMIN, caps.CAP_NET_ADMIN
)
# rustnet once its stages run: signal the ones that run as nobody (teardown).
SUPERVISOR_KEEPS = caps.mask(caps.CAP_KILL)


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


def lookup(name: str = UNPRIVILEGED_USER) -> User | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return User(name, entry.pw_uid, entry.pw_gid)


def _allows(st: os.stat_result, user: User, want: int) -> bool:
    """``want`` (a mask of 4 read, 1 search/execute) for ``user`` by the mode bits alone."""
    if st.st_uid == user.uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid == user.gid:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    return bits & want == want


def can_reach(path: Path, user: User, want: int) -> bool:
    """Every directory above ``path`` searchable by ``user`` and ``path`` itself ``want``-able."""
    return blocker(path, user, want) is None


def blocker(path: Path, user: User | None, want: int) -> Path | None:
    """What keeps ``user`` (None: ourselves) from ``path``: the first directory on the way it
    cannot search (symbolic links followed), or ``path`` when it is not ``want``-able; None when
    nothing does."""

    def allowed(p: Path, bits: int) -> bool:
        if user is None:
            return os.access(p, (os.R_OK if bits & 4 else 0) | (os.X_OK if bits & 1 else 0))
        return _allows(p.stat(), user, bits)

    try:
        resolved = path.resolve()
        for parent in [*reversed(path.absolute().parents), *reversed(resolved.parents)]:
            if not allowed(parent, 1):
                return parent
        return None if allowed(resolved, want) else resolved
    except OSError:
        return path


def script_interpreter(path: Path) -> Path | None:
    """The interpreter named by the ``#!`` line of ``path`` (None when it has none)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].split()
    return Path(os.fsdecode(words[0])) if words else None


def exec_refused(path: str, user: User | None) -> str | None:
    """Why the kernel refused to run the program ``path`` as ``user`` (None: ourselves), in words,
    or None when nothing on the way to it or to its interpreter explains it."""
    who = user.name if user is not None else caps.user_name(os.geteuid())
    program = Path(path)
    found = blocker(program, user, 5)
    if found is not None:
        return f"{who} cannot {'run' if found == program.resolve() else 'enter'} {found}"
    interpreter = script_interpreter(program)
    found = None if interpreter is None else blocker(interpreter, user, 5)
    if interpreter is None or found is None:
        return None
    what = f"{who} cannot {'run' if found == interpreter.resolve() else 'enter'} {found}"
    return (
        f"its interpreter {interpreter} is out of reach ({what}): a Python under a private "
        "directory, such as pyenv's under /root, serves its owner only; make the venv from a "
        "Python every user can run (e.g. /usr/bin/python3 -m venv)"
    )


def python_paths() -> list[tuple[Path, int]]:
    """What a stage needs to start: the interpreter (r+x), its import directories and ours (r+x)."""
    need: list[tuple[Path, int]] = [(Path(sys.executable), 5)]
    import site

    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    for entry in sys.path:
        # The user's own site directory is skipped by a Python that cannot read it: not needed.
        if entry and entry != user_site and Path(entry).is_dir():
            need.append((Path(entry), 5))
    need.append((Path(rustnet.__file__).parent, 5))
    # Only where the commands live, not their code: this module sits below them.
    commands = importlib.util.find_spec("rustnet_cmds")
    if commands is not None and commands.origin:
        need.append((Path(commands.origin).parent, 5))
    return need


def unprivileged_stage_user() -> tuple[User | None, str]:
    """The user for the parsing stages (None: keep ours) and why, for the log."""
    if os.geteuid() != 0:
        return None, "not running as root"
    user = lookup()
    if user is None:
        return None, f"no user {UNPRIVILEGED_USER!r}"
    for path, want in python_paths():
        found = blocker(path, user, want)
        if found is not None:
            target = path.resolve()
            way = f"enter {found}, on the way to {target}" if found != target else f"read {target}"
            return None, f"{user.name} cannot {way} (use a Python every user can read)"
    return user, f"rn-dissect and rn-track run as {user.name}"


def confine(keep_as_root: int = 0) -> None:
    """Give up every capability but ``keep_as_root`` (kept only by root: a normal user's come from
    a setcap interpreter by accident), for this process and whatever it execs."""
    try:
        caps.limit(keep_as_root if os.geteuid() == 0 else 0)
    except caps.CapsError as exc:
        raise StageError(str(exc)) from None
    caps.no_new_privs()


def stays_root_notice() -> str | None:
    """The one line to print when a root ``rustnet`` must leave the parsing stages root."""
    if os.geteuid() != 0:
        return None
    user, why = unprivileged_stage_user()
    if user is not None:
        return None
    return f"rn-dissect and rn-track run as root, without capabilities: {why}"


def sandbox_options(f: F) -> F:
    """--no-sandbox and --sandbox-strict, as every stage that restricts itself takes them."""
    f = click.option(
        "--sandbox-strict",
        is_flag=True,
        help="Exit with an error unless the sandbox (Landlock) is fully enforced.",
    )(f)
    return click.option(
        "--no-sandbox",
        is_flag=True,
        help="Do not restrict this stage with Landlock (no_new_privs is still set).",
    )(f)


def enter_sandbox(
    stage: str,
    no_sandbox: bool,
    strict: bool,
    reverse_dns: bool = False,
    extra_read: tuple[str, ...] = (),
    uid_dropped: bool = False,
    children: bool = False,
    impossible: str = "",
    connect_ports: tuple[int, ...] = (),
    names: bool = False,
) -> Any:
    """Restrict this stage (see rustnet.sandbox) and return its status; a one-line error under
    --sandbox-strict."""
    from rustnet import sandbox

    if no_sandbox and strict:
        raise StageError("--no-sandbox and --sandbox-strict contradict each other", EXIT_USAGE)
    try:
        return sandbox.apply(
            stage,
            sandbox.mode_of(no_sandbox, strict),
            uid_dropped=uid_dropped,
            reverse_dns=reverse_dns,
            extra_read=extra_read,
            children=children,
            impossible=impossible,
            connect_ports=connect_ports,
            names=names,
        )
    except sandbox.SandboxError as exc:
        raise StageError(str(exc)) from None


def input_files(inputs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The named input files a sandboxed stage must still be able to open."""
    return tuple(p for p in inputs if p != "-")
