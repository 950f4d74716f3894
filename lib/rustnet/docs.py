"""Man pages and shell completions, generated from the click definitions and the record docs.

    python -m rustnet.docs man DIR           man/<command>.1 and man/rustnet-records.5
    python -m rustnet.docs completions DIR   completions/<command>.bash, .zsh, .fish

Everything is deterministic (no dates), so a test can regenerate into a temporary
directory and compare with what is committed: a changed option that nobody
regenerated the docs for fails the suite.

This module is the top of the layers: it loads every command of ``cmds/`` to read its
options, so nothing in the library may import it.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Final

import click

from rustnet import __version__
from rustnet.stream.fields import OWN, Field

# command name -> module in rustnet_cmds holding its click command ``main``.
COMMANDS: Final = {
    "rn-capture": "capture",
    "rn-dissect": "dissect",
    "rn-track": "track",
    "rn-enrich": "enrich",
    "rn-view": "view",
    "rn-export": "export",
    "rn-merge": "merge",
    "rustnet": "rustnet",
}

EXIT_STATUS: Final = (
    ("0", "success"),
    ("1", "runtime error (permission, interface, I/O)"),
    ("2", "usage error"),
    (
        "3",
        "damaged input: an empty file, a file that is neither a capture nor a record stream, or a "
        "truncated or corrupt capture file, record stream or gzip data; everything before the "
        "damage was still written, with a one-line warning",
    ),
    ("130", "interrupted with nothing to drain"),
    ("143", "ended by SIGTERM or SIGHUP (systemctl stop, timeout, a closed terminal)"),
)

# Options whose values name an interface (completed from /sys/class/net).
INTERFACE_OPTS: Final = frozenset({"-i", "--interface"})

# Hand-written sections per command, in the man page after OPTIONS.
THEME_FILES = (
    "The config file, the first of: under sudo, the invoking user's ~/.config/rustnet/config.toml (read "
    "only if that user owns it); $XDG_CONFIG_HOME/rustnet/config.toml; ~/.config/rustnet/config.toml. "
    "Only its [theme] table is read: name = one of the --theme presets (--theme wins), and "
    "[theme.overrides] token = colour, where a token is one of accent, ok, warn, err, info, special, "
    "muted, faint, text, heading, label, key, border, rx, tx, rx_wave, tx_wave, selection_bg, "
    "selection_fg, status_bg and a colour is #rrggbb or an ANSI name (black, red, green, yellow, blue, "
    "magenta, cyan, gray, darkgray, lightred, lightgreen, lightyellow, lightblue, lightmagenta, lightcyan, "
    "white, reset; reset not for the _bg tokens). A missing file is fine; a file that cannot be read "
    "(a symbolic link, over 64 KiB, not TOML), an unknown theme or a bad override is one line on stderr "
    "and the default is used; an override with under 3:1 contrast is a warning only. Example: a "
    '[theme] table with name = "nord" and a [theme.overrides] table with border = "darkgray".'
)
THEME_ENVIRONMENT = (
    "NO_COLOR (non-empty): no colours at all, as --no-color. COLORTERM=truecolor or 24bit, or a TERM "
    "ending in -direct: the terminal shows 24-bit colour, so the truecolor themes (catppuccin-mocha, "
    "tokyo-night, gruvbox, nord) and #rrggbb overrides are drawn exactly; otherwise those themes use "
    "muted's colours and #rrggbb overrides the nearest of 256 colours. At start the terminal is asked "
    "for its background colour (OSC 11, 150 ms at most): on a light one the grey tiers (muted, faint) "
    "are drawn dark grey unless overridden."
)

EXTRA: Final[dict[str, list[tuple[str, str]]]] = {
    "rn-export": [
        (
            "FLOWS",
            "One IPFIX (RFC 7011) biflow (RFC 5103) per connection, the originator forward and the "
            "responder reverse (reverse elements: enterprise number 29305): sourceIPv4Address or "
            "sourceIPv6Address and the destination's, sourceTransportPort, destinationTransportPort "
            "(0 for ICMP and other protocols), protocolIdentifier, flowStartMilliseconds, "
            "flowEndMilliseconds, packetDeltaCount and octetDeltaCount each way, tcpControlBits each "
            "way (every flag a side's segments carried, OR'd; the reverse one first, so that nfdump, "
            "which keeps one, keeps the originator's), flowEndReason (1 idle "
            "timeout, 2 active timeout, 3 end of flow detected: TCP or QUIC closed, or a new connection "
            "on the tuple, 4 forced end: end of input, 5 lack of resources: evicted). Octets are at the "
            "IP layer: the frame bytes less each frame's link-layer header (Ethernet 14, Linux cooked "
            "16 or 20, 4 per VLAN tag); frames padded to Ethernet's 60-byte minimum count their padding. "
            "ARP is not exported.",
        ),
        (
            "ENTERPRISE ELEMENTS",
            "Element 1: the detected application protocol (TLS, DNS, QUIC, ...). Element 2: the TLS or "
            "QUIC server name. Both are variable-length strings (at most 255 bytes) of enterprise number "
            "--pen: 32473 by default, the number RFC 5612 reserves for documentation, as rustnet has none "
            "of its own; a collector that does not know them skips them.",
        ),
        (
            "TRANSPORT",
            "UDP: one message per datagram, at most --max-message bytes; the templates go in the first "
            "message and again every --template-refresh seconds (RFC 7011 section 8.4). TCP: the "
            "templates open each connection; a lost connection is retried 1 s, 2 s, ... up to 30 s "
            "later, each new connection numbering from 0; at most 4 MiB of messages and 100,000 flows "
            "wait for it, the rest is dropped and counted. The sequence number of a message counts the "
            "flows sent before it in the session. Errors are counted and summed up on stderr at exit.",
        ),
    ],
    "rustnet": [
        (
            "PIPELINE",
            "rustnet starts rn-capture | rn-dissect | rn-track | rn-enrich as child processes in a process "
            "group of their own and shows their output in the viewer. Only rn-capture needs capture "
            "privileges; started as root it switches to the user nobody once the capture is open. If a "
            "stage dies, the viewer shows its last error line; Ctrl+C, q, SIGTERM and SIGHUP end every "
            "stage. With --read FILE, a pcap or pcapng file goes to rn-capture -r and anything else is "
            "read as a recorded record stream. With --json the output is exactly the final records of "
            "rn-capture -r FILE | rn-dissect | rn-track --format json, with the names rn-enrich --no-process "
            "adds. Some stages may share a process, for the same records: a file is dissected in "
            "rn-capture's process and named in rn-track's (rn-capture --dissect, rn-track --enrich); live, "
            "where fewer than 3 cores are idle, rn-track dissects the packets itself (rn-track --dissect).",
        ),
        (
            "PERMISSIONS",
            "Capturing needs CAP_NET_RAW and CAP_NET_ADMIN. Run as root (sudo rustnet); or make a venv "
            "with an interpreter of its own (python3 -m venv --copies DIR), install rustnet there and give "
            "that interpreter the capabilities: sudo setcap cap_net_raw,cap_net_admin=eip DIR/bin/python3 "
            "(every script it runs can then capture, so never the system's python3; every stage but "
            "rn-capture gives them up as it starts); or run only the capture privileged: "
            "sudo rn-capture -i eth0 | rn-view. Run as root, rn-dissect and rn-track run as nobody (as "
            "root without capabilities when nobody cannot run the Python), rn-enrich keeps "
            "cap_dac_read_search, cap_sys_ptrace, cap_sys_admin and cap_net_admin, and rustnet itself "
            "cap_kill; the viewer's Help (h) lists them.",
        ),
        (
            "FILES",
            "logs/rustnet_YYYY-MM-DD_HH-MM-SS.log: the session log written with -l/--log-level, created "
            "with mode 0600 because it holds connection data. scripts/clear_old_logs.sh deletes old logs. "
            + THEME_FILES,
        ),
        (
            "ENVIRONMENT",
            "RUSTNET_SSH: the ssh command used by --remote (default: ssh), split like a shell would, e.g. "
            "'ssh -p 2222 -i ~/.ssh/monitor'. RUSTNET_REMOTE_PATH: directory prepended to PATH on the "
            "remote host, where rn-capture and rn-enrich are installed. " + THEME_ENVIRONMENT,
        ),
    ],
    "rn-view": [("FILES", THEME_FILES), ("ENVIRONMENT", THEME_ENVIRONMENT)],
}


# --- loading the commands ------------------------------------------------------------------
def load_command(name: str) -> click.Command:
    module = importlib.import_module(f"rustnet_cmds.{COMMANDS[name]}")
    cmd = module.main
    if not isinstance(cmd, click.Command):
        raise TypeError(f"rustnet_cmds.{COMMANDS[name]}.main is not a click command")
    return cmd


def _context(name: str, cmd: click.Command) -> click.Context:
    settings = {
        k: v
        for k, v in (cmd.context_settings or {}).items()
        if k not in ("max_content_width", "terminal_width")
    }
    return click.Context(cmd, info_name=name, max_content_width=10_000, terminal_width=10_000, **settings)


def visible_options(cmd: click.Command, ctx: click.Context) -> list[click.Option]:
    opts = [p for p in cmd.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    return opts


def help_paragraphs(cmd: click.Command) -> list[tuple[bool, str]]:
    """The command's help as (verbatim, text) paragraphs; ``\\b`` marks a verbatim block, as in click."""
    text = inspect.cleandoc(cmd.help or "")
    out: list[tuple[bool, str]] = []
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        if para.startswith("\b"):
            out.append((True, para[1:].strip("\n")))
        else:
            out.append((False, " ".join(line.strip() for line in para.splitlines())))
    return out


# --- man pages -------------------------------------------------------------------------------
def roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens (so they stay hyphens) and leading dots."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # Non-ASCII (arrows in key names, say) as groff glyph escapes: the page stays ASCII.
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.split("\n"))


def man_page(name: str, cmd: click.Command) -> str:
    ctx = _context(name, cmd)
    paras = help_paragraphs(cmd)
    summary = paras[0][1] if paras else name
    summary = summary.split(". ")[0].rstrip(".")
    lines = [
        f'.TH {name.upper()} 1 "" "rustnet {__version__}" "rustnet manual"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(summary)}",
        ".SH SYNOPSIS",
        f".B {roff(name)}",
        roff(" ".join(cmd.collect_usage_pieces(ctx))),
        ".SH DESCRIPTION",
    ]
    for verbatim, text in paras:
        if verbatim:
            lines += [".PP", ".nf", roff(text), ".fi"]
        else:
            lines += [".PP", roff(text)]
    lines.append(".SH OPTIONS")
    for opt in visible_options(cmd, ctx):
        record = opt.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f"\\fB{roff(names)}\\fR", roff(help_text) if help_text else ""]
    for title, body in EXTRA.get(name, []):
        lines += [f".SH {title}", roff(body)]
    if name in ("rustnet", "rn-view"):
        lines += _keys_section()
        lines += _filter_section()
    lines.append(".SH EXIT STATUS")
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", roff(meaning)]
    others = [c for c in COMMANDS if c != name]
    lines += [
        ".SH SEE ALSO",
        ", ".join(f"\\fB{roff(c)}\\fR(1)" for c in others) + ", \\fBrustnet\\-records\\fR(5)",
        "",
    ]
    return "\n".join(lines)


def _keys_section() -> list[str]:
    """The TUI keys, from the viewer's key maps: global, then each tab's."""
    try:
        keys = importlib.import_module("rustnet.view.keys")
    except ImportError:
        return []
    sections = getattr(keys, "help_sections", None)
    if not callable(sections):
        return []
    out = [".SH KEYS"]
    for title, lines in sections():
        out.append(f".SS {roff(str(title))}")
        for key, what in lines:
            out += [".TP", f"\\fB{roff(str(key))}\\fR", roff(str(what))]
    return out


def _filter_section() -> list[str]:
    """The filter language, from the viewer's keyword table."""
    try:
        view_filter = importlib.import_module("rustnet.view.filter")
    except ImportError:
        return []
    listing = getattr(view_filter, "help_lines", None)
    if not callable(listing):
        return []
    out = [
        ".SH FILTER",
        ".PP",
        roff(
            "Press / and type: the table follows every keystroke. Terms are ANDed and "
            "case-insensitive; keyword values match as substrings."
        ),
    ]
    for syntax, what in listing():
        out += [".TP", f"\\fB{roff(str(syntax))}\\fR", roff(str(what))]
    return out


def records_page() -> str:
    """rustnet-records(5): the stream format (rustnet.stream.records), every record's fields from
    the declared table (rustnet.stream.fields)."""
    from rustnet.stream import fields, records

    lines = [
        f'.TH RUSTNET-RECORDS 5 "" "rustnet {__version__}" "rustnet manual"',
        ".SH NAME",
        "rustnet\\-records \\- the record stream passed between the rustnet commands",
        ".SH DESCRIPTION",
    ]
    for para in re.split(r"\n\s*\n", plain(inspect.cleandoc(records.__doc__ or ""))):
        if para.lstrip().startswith("* "):
            for item in re.split(r"(?m)^\s*\* ", para):
                if item.strip():
                    lines += [".IP \\(bu 2", roff(" ".join(item.split()))]
            continue
        lines += [".PP", roff(" ".join(line.strip() for line in para.splitlines()))]
    lines.append(".SH RECORD TYPES")
    for rtype in fields.RECORDS:
        lines += [f".SS {roff(rtype.tag)} ({rtype.kind}): {roff(rtype.title)}"]
        if rtype.about:
            lines += [".PP", roff(rtype.about)]
        if rtype.kind == "positional":
            lines += [".PP", roff("Positional: [" + ", ".join(fields.names(rtype.fields)) + "]")]
        lines += _field_list(rtype.fields, rtype.tag == records.CONN)
        if rtype.tag == records.HEADER:
            lines += [".PP", roff("Each entry of privs:")]
            lines += _field_list(fields.PRIVS, False)
        elif rtype.tag == records.SUMMARY:
            lines += [".PP", roff("Keys of info about that one packet, which rn-track does not copy:")]
            lines += _field_list(fields.INFO, False)
        elif rtype.tag == records.IFSTATS:
            lines += [".PP", roff("Each entry of ifaces:")]
            lines += _field_list(fields.IFACE, False)
    lines += [
        ".SH MERGE",
        ".PP",
        roff("How the records of one connection carry a field (the conn fields' merge):"),
    ]
    for merge, meaning in fields.MERGES.items():
        lines += [".TP", f"\\fB{roff(merge)}\\fR", roff(meaning)]
    lines += [
        ".SH LIMITS",
        ".PP",
        roff(
            "What a command keeps of a record it holds (rn-view's connections, rustnet --json's open "
            "ones, sockets to join), what rn-track keeps of the DPI fields of a connection, and "
            "the integers records carry:"
        ),
    ]
    for name, value, meaning in fields.LIMITS:
        lines += [".TP", f"\\fB{roff(name)}\\fR {value}", roff(meaning)]
    lines += [".SH SEE ALSO", ", ".join(f"\\fB{roff(c)}\\fR(1)" for c in COMMANDS), ""]
    return "\n".join(lines)


def _field_list(declared: tuple[Field, ...], conn: bool) -> list[str]:
    """One ``.TP`` entry per field: name (type, unit), its meaning; for conn fields also who writes
    it, how it merges, the filter keywords that search it and its label in Details."""
    out: list[str] = []
    for f in declared:
        kind = f"{f.type}, {f.unit}" if f.unit else f.type
        out += [".TP", f"\\fB{roff(f.name)}\\fR ({roff(kind)})", roff(f.meaning)]
        if conn and f.stage:
            how = [f.stage if f.merge == OWN else f"{f.stage}, merge {f.merge}"]
            searched = [f"{k}:" for k in f.keywords] + (["plain words"] if f.search else [])
            if searched:
                how.append("filter " + ", ".join(searched))
            if f.card:
                side = {"src": "Local or Remote ", "dst": "Local or Remote "}.get(f.side, "")
                how.append(f'Details {f.card}, "{side}{f.label}"')
            out += [".br", roff("[" + "; ".join(how) + "]")]
    return out


# --- completions ---------------------------------------------------------------------------
def _option_words(cmd: click.Command, ctx: click.Context) -> list[tuple[click.Option, list[str]]]:
    return [(o, [*o.opts, *o.secondary_opts]) for o in visible_options(cmd, ctx)]


def _value_kind(opt: click.Option) -> str:
    """How to complete an option's value: none (flag), choice, file, dir, iface, or any."""
    if opt.is_flag or opt.count:
        return "none"
    if any(w in INTERFACE_OPTS for w in opt.opts):
        return "iface"
    if isinstance(opt.type, click.Choice):
        return "choice"
    if isinstance(opt.type, (click.Path, click.File)):
        return "dir" if isinstance(opt.type, click.Path) and not opt.type.file_okay else "file"
    return "any"


def _takes_files(cmd: click.Command, ctx: click.Context) -> bool:
    return any(
        isinstance(p, click.Argument) and isinstance(p.type, (click.Path, click.File))
        for p in cmd.get_params(ctx)
    )


def bash_completion(name: str, cmd: click.Command) -> str:
    ctx = _context(name, cmd)
    func = "_" + name.replace("-", "_")
    words = sorted(w for _, ws in _option_words(cmd, ctx) for w in ws)
    cases: list[str] = []
    for opt, ws in _option_words(cmd, ctx):
        kind = _value_kind(opt)
        if kind == "none":
            continue
        pattern = "|".join(ws)
        if kind == "choice":
            assert isinstance(opt.type, click.Choice)
            action = f'COMPREPLY=($(compgen -W "{" ".join(map(str, opt.type.choices))}" -- "$cur"))'
        elif kind == "file":
            action = 'COMPREPLY=($(compgen -f -- "$cur"))'
        elif kind == "dir":
            action = 'COMPREPLY=($(compgen -d -- "$cur"))'
        elif kind == "iface":
            action = 'COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null) any" -- "$cur"))'
        else:
            action = "COMPREPLY=()"
        cases.append(f"        {pattern}) {action}; return ;;")
    rest = 'COMPREPLY=($(compgen -f -- "$cur"))' if _takes_files(cmd, ctx) else "COMPREPLY=()"
    return "\n".join(
        [
            f"# bash completion for {name} (generated by rustnet.docs from its click options)",
            f"{func}() {{",
            '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
            '    case "$prev" in',
            *cases,
            "    esac",
            '    if [[ "$cur" == -* ]]; then',
            f'        COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur"))',
            "    else",
            f"        {rest}",
            "    fi",
            "}",
            f"complete -o filenames -F {func} {name}",
            "",
        ]
    )


def _zsh_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("'", "'\\''")
        .replace("[", "\\[")
        .replace("]", "\\]")
        .replace(":", "\\:")
    )


def zsh_completion(name: str, cmd: click.Command) -> str:
    ctx = _context(name, cmd)
    specs: list[str] = []
    for opt, ws in _option_words(cmd, ctx):
        desc = _zsh_escape(_first_sentence(opt.help or ""))
        kind = _value_kind(opt)
        meta = _zsh_escape((opt.metavar or opt.name or "value").lower())
        if kind == "none":
            action = ""
        elif kind == "choice":
            assert isinstance(opt.type, click.Choice)
            action = f":{meta}:({' '.join(map(str, opt.type.choices))})"
        elif kind == "file":
            action = f":{meta}:_files"
        elif kind == "dir":
            action = f":{meta}:_files -/"
        elif kind == "iface":
            action = f":{meta}:_net_interfaces"
        else:
            action = f":{meta}:"
        excl = "(" + " ".join(ws) + ")" if len(ws) > 1 else ""
        if len(ws) > 1:
            specs.append(f"'{excl}'{{{','.join(ws)}}}'[{desc}]{action}'")
        else:
            specs.append(f"'{ws[0]}[{desc}]{action}'")
    if _takes_files(cmd, ctx):
        specs.append("'*:file:_files'")
    body = " \\\n  ".join(specs)
    return "\n".join(
        [
            f"#compdef {name}",
            f"# zsh completion for {name} (generated by rustnet.docs from its click options)",
            f"_arguments -s \\\n  {body}",
            "",
        ]
    )


def fish_completion(name: str, cmd: click.Command) -> str:
    ctx = _context(name, cmd)
    lines = [f"# fish completion for {name} (generated by rustnet.docs from its click options)"]
    if not _takes_files(cmd, ctx):
        lines.append(f"complete -c {name} -f")
    for opt, ws in _option_words(cmd, ctx):
        parts = [f"complete -c {name}"]
        for w in ws:
            if w.startswith("--"):
                parts.append(f"-l {w[2:]}")
            elif w.startswith("-") and len(w) == 2:
                parts.append(f"-s {w[1:]}")
            else:
                parts.append(f"-o {w[1:]}")
        kind = _value_kind(opt)
        if kind == "choice":
            assert isinstance(opt.type, click.Choice)
            parts.append(f"-x -a '{' '.join(map(str, opt.type.choices))}'")
        elif kind in ("file", "dir"):
            parts.append("-r -F")
        elif kind == "iface":
            parts.append("-x -a '(__fish_print_interfaces)'")
        elif kind == "any":
            parts.append("-x")
        desc = _first_sentence(opt.help or "").replace("\\", "\\\\").replace("'", "\\'")
        parts.append(f"-d '{desc}'")
        lines.append(" ".join(parts))
    lines.append("")
    return "\n".join(lines)


def _first_sentence(text: str) -> str:
    """The help's first sentence (a period outside brackets, not ``e.g.``), for one-line menus."""
    text = " ".join(text.split())
    depth = 0
    for i, c in enumerate(text):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif c == "." and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            if not text[:i].endswith(("e.g", "i.e", "etc")):
                return text[:i]
    return text.rstrip(".")


def plain(text: str) -> str:
    """Docstring markup (reST literals, emphasis, roles) as plain text for a man page."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\1", text)


# --- writing -------------------------------------------------------------------------------
def write_man(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in COMMANDS:
        path = directory / f"{name}.1"
        path.write_text(man_page(name, load_command(name)), encoding="utf-8")
        written.append(path)
    path = directory / "rustnet-records.5"
    path.write_text(records_page(), encoding="utf-8")
    written.append(path)
    return written


def write_completions(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in COMMANDS:
        cmd = load_command(name)
        for ext, make in (("bash", bash_completion), ("zsh", zsh_completion), ("fish", fish_completion)):
            path = directory / f"{name}.{ext}"
            path.write_text(make(name, cmd), encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("man", "completions"):
        sys.stderr.write("usage: python -m rustnet.docs man|completions DIR\n")
        return 2
    what, directory = args
    written = write_man(Path(directory)) if what == "man" else write_completions(Path(directory))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
