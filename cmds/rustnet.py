"""rustnet: the whole pipeline in one command, with RustNet's options and a TUI.

Imports stay lazy (the work happens in rustnet.app.wrapper) so ``rustnet --help``
answers at once.
"""

from __future__ import annotations

import click
from rustnet.cli.common import CONTEXT_SETTINGS, debug_option, run_stage, version_option
from rustnet.cli.geoipopts import geoip_options
from rustnet.cli.themeopts import theme_options
from rustnet.stream.bounds import DEFAULT_MAX_CONNECTIONS

PROG = "rustnet"
LOG_LEVELS = ("error", "warn", "info", "debug", "trace")


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "-i",
    "--interface",
    metavar="IFACE",
    help="Network interface to monitor [default: the interface of the default route].",
)
@click.option(
    "--no-localhost", is_flag=True, help="Hide localhost connections (both ends loopback); shown by default."
)
@click.option(
    "--show-localhost",
    is_flag=True,
    help="Show localhost connections (the default; wins over --no-localhost).",
)
@click.option(
    "-r",
    "--refresh-interval",
    type=click.IntRange(50, 3_600_000),
    default=1000,
    show_default=True,
    metavar="MS",
    help="UI refresh interval in milliseconds.",
)
@click.option("--no-dpi", is_flag=True, help="Disable deep packet inspection.")
@click.option(
    "-l",
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Write logs/rustnet_YYYY-MM-DD_HH-MM-SS.log at this level (if not given, no logging).",
)
@click.option(
    "-f", "--bpf-filter", metavar="FILTER", help="BPF capture filter, as in tcpdump (e.g. 'tcp port 443')."
)
@click.option(
    "--read",
    "read_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read a pcap/pcapng capture or a recorded record stream, gzip'd or not ('-': standard "
    "input) instead of an interface.",
)
@click.option(
    "--json",
    "json_out",
    is_flag=True,
    help="No TUI: write the final record of every connection as JSON Lines "
    "(at end of file; live: on Ctrl+C or after --duration).",
)
@click.option(
    "--duration",
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="Stop capturing after this many seconds.",
)
@click.option(
    "--write-pcap",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also save the captured packets to this pcap file.",
)
@click.option(
    "--record",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also save the record stream to FILE (replay: 'rn-view FILE' or 'rustnet --read FILE').",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    metavar="N",
    help="Cap on connections held (tracker and viewer); over it the least recently updated are "
    "dropped and counted (--json: written then, in their last state).",
)
@click.option(
    "-B",
    "--buffer-size",
    type=click.IntRange(1, 4096),
    metavar="MIB",
    help="Kernel capture buffer of a live capture, in MiB, shared out among --workers [default: 64].",
)
@click.option(
    "--json-log",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Append connection events (new_connection, connection_closed) to FILE as JSON Lines.",
)
@click.option(
    "--pcap-export",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the packets to FILE as pcap (1514 bytes of each at most) and the connections to "
    "FILE.connections.jsonl.",
)
@click.option(
    "--pcapng-export",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the packets to FILE as pcapng, each with a comment naming its process, "
    "application and server name when known.",
)
@click.option(
    "--resolve-dns/--no-resolve-dns",
    "resolve_dns",
    default=None,
    help="Reverse DNS: names for the addresses, looked up in the background (the lookups are "
    "DNS traffic of their own)  [default: on live, off with --read: a file's addresses are from "
    "elsewhere].",
)
@click.option(
    "--show-ptr-lookups",
    is_flag=True,
    help="Also show the PTR lookups reverse DNS makes (hidden by default).",
)
@geoip_options
@click.option(
    "--ipfix",
    metavar="HOST:PORT",
    help="Also send every connection as an IPFIX flow to the collector at HOST:PORT (UDP; rn-export "
    "joins the pipeline, see rn-export(1)).",
)
@click.option("--ipfix-tcp", is_flag=True, help="Send the IPFIX flows over TCP instead of UDP.")
@click.option("--list-interfaces", is_flag=True, help="List the interfaces that can be captured on and exit.")
@click.option(
    "--remote",
    metavar="[USER@]HOST",
    multiple=True,
    help="Capture on HOST over ssh (rn-capture | rn-enrich run there) and view here. Repeat it to "
    "see several hosts in one view (a Host column); a host that drops out is shown as down "
    "and tried again, the others go on.",
)
@click.option(
    "--no-sandbox",
    is_flag=True,
    help="Do not restrict the stages with Landlock, and keep root in the stages that drop it "
    "(no_new_privs is still set).",
)
@click.option(
    "--sandbox-strict",
    is_flag=True,
    help="Exit with an error unless every stage's sandbox is fully enforced (a live capture's "
    "rn-enrich, which looks into other processes for their sockets, cannot be).",
)
@click.option(
    "--no-uid-drop",
    is_flag=True,
    help="When run as root, keep root in rn-capture, rn-dissect and rn-track instead of "
    "becoming nobody once started.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    metavar="N",
    help="Run N capture and tracking chains side by side, each on its share of the connections "
    "(a flow hash; live: the kernel shares the packets out), merged into one stream  [default: half "
    "the idle cores, at least 1].",
)
@theme_options
@debug_option
@version_option(PROG)
def main(
    interface: str | None,
    no_localhost: bool,
    show_localhost: bool,
    refresh_interval: int,
    no_dpi: bool,
    log_level: str | None,
    bpf_filter: str | None,
    read_path: str | None,
    json_out: bool,
    duration: float | None,
    write_pcap: str | None,
    record: str | None,
    max_connections: int,
    buffer_size: int | None,
    json_log: str | None,
    pcap_export: str | None,
    pcapng_export: str | None,
    resolve_dns: bool | None,
    show_ptr_lookups: bool,
    geoip_country: str | None,
    geoip_asn: str | None,
    geoip_city: str | None,
    no_geoip: bool,
    ipfix: str | None,
    ipfix_tcp: bool,
    list_interfaces: bool,
    remote: tuple[str, ...],
    no_sandbox: bool,
    sandbox_strict: bool,
    no_uid_drop: bool,
    workers: int | None,
    theme: str | None,
    no_color: bool,
    debug: bool,
) -> None:
    """Monitor network connections in the terminal: rn-capture | rn-dissect | rn-track | rn-enrich,
    viewed in a TUI.

    \b
    Examples:
      sudo rustnet                        TUI on the default interface
      rustnet -i eth0 --no-dpi -r 500     RustNet's own options
      rustnet --read trace.pcap           TUI over a capture file
      rustnet --read trace.pcap --json    final connection records as JSON Lines
      rustnet --remote root@host          capture there, view here
      rustnet --remote web1 --remote web2 several hosts in one view
      rustnet --pcapng-export t.pcapng    packets with their process, as comments
      rustnet --ipfix collector:4739      also send the connections to an IPFIX collector
    """

    if no_sandbox and sandbox_strict:
        raise click.UsageError("--no-sandbox and --sandbox-strict contradict each other")

    def body() -> int:
        if list_interfaces:
            from rustnet.app.launch import list_interfaces as list_ifaces

            return list_ifaces()
        from rustnet.app.launch import Options
        from rustnet.app.wrapper import run

        palette = None
        if not json_out:  # the viewer's colours; read before any stage starts or sandbox closes
            from rustnet.cli.common import warn
            from rustnet.view.themeconfig import resolve_palette

            palette, messages = resolve_palette(theme, no_color)
            for msg in messages:
                warn(PROG, msg)
        return run(
            Options(
                interface=interface,
                no_localhost=no_localhost and not show_localhost,
                refresh_ms=refresh_interval,
                no_dpi=no_dpi,
                log_level=log_level.lower() if log_level else None,
                bpf_filter=bpf_filter,
                read_path=read_path,
                json_out=json_out,
                duration=duration,
                write_pcap=write_pcap,
                record=record,
                remote=remote[0] if len(remote) == 1 else None,
                remotes=remote if len(remote) > 1 else (),
                debug=debug,
                max_connections=max_connections,
                buffer_size=buffer_size,
                json_log=json_log,
                pcap_export=pcap_export,
                pcapng_export=pcapng_export,
                resolve_dns=resolve_dns,
                show_ptr_lookups=show_ptr_lookups,
                geoip_country=geoip_country,
                geoip_asn=geoip_asn,
                geoip_city=geoip_city,
                no_geoip=no_geoip,
                ipfix=ipfix,
                ipfix_tcp=ipfix_tcp,
                sandbox="off" if no_sandbox else "strict" if sandbox_strict else "best-effort",
                uid_drop=not no_uid_drop,
                palette=palette,
                workers=workers,
                auto_workers=True,
            )
        )

    run_stage(PROG, body, debug=debug)


if __name__ == "__main__":
    main()
