"""rn-enrich: who is behind each connection (process, user, namespace, service, hostnames)."""

from __future__ import annotations

import click
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    check_output_format,
    debug_option,
    format_option,
    inputs_argument,
    producer,
    run_stage,
    stdin_hint,
    version_option,
)
from rustnet.cli.geoipopts import geoip_options
from rustnet.cli.privilege import ENRICH_KEEPS, confine, enter_sandbox, input_files, sandbox_options
from rustnet.cli.pump import run_stream_stage
from rustnet.enrich.stage import PROG, Enricher
from rustnet.stream import RecordWriter

PROCESS_ATTRIBUTION = (
    "process attribution looks into other processes, which Landlock forbids (--no-process allows it)"
)


@click.command(context_settings=CONTEXT_SETTINGS)
@inputs_argument
@format_option
@click.option(
    "--poll-interval",
    type=click.IntRange(50, 60_000),
    default=1000,
    show_default=True,
    metavar="MS",
    help="How often, at most, to re-read the socket table while local connections "
    "need it (a new one also triggers a read; an idle stream none).",
)
@click.option(
    "--watch-interval",
    type=click.IntRange(0, 10_000),
    default=1,
    show_default=True,
    metavar="MS",
    help="Check the socket counters this often in a background thread and list new sockets at "
    "once, to catch short-lived clients such as curl; only for a few seconds after a program "
    "starts or a local connection is seen without its owner (about 3% of a CPU then, "
    "listings capped at 5%; nothing measurable otherwise); 0 turns it off.",
)
@click.option(
    "--resolve-dns/--no-resolve-dns",
    "resolve_dns",
    default=None,
    help="Look up PTR names of the addresses seen, in the background through the system "
    "resolver (it makes DNS traffic), or not  [default: on for a live capture, off for a file "
    "or recording, whose addresses are from elsewhere].",
)
@click.option("--reverse-dns", "reverse_dns_old", is_flag=True, hidden=True)  # its old name
@geoip_options
@click.option("--no-process", is_flag=True, help="No process attribution: services and hostnames only.")
@sandbox_options
@debug_option
@version_option(PROG)
def main(
    inputs: tuple[str, ...],
    fmt: str,
    poll_interval: int,
    watch_interval: int,
    resolve_dns: bool | None,
    reverse_dns_old: bool,
    geoip_country: str | None,
    geoip_asn: str | None,
    geoip_city: str | None,
    no_geoip: bool,
    no_process: bool,
    no_sandbox: bool,
    sandbox_strict: bool,
    debug: bool,
) -> None:
    """Add process, user, network namespace, service and hostnames to records (stdin or FILEs).

    After rn-track it annotates connection records; right after rn-capture (for example on
    a remote host: ssh HOST 'rn-capture | rn-enrich' | rn-view) it passes packets through
    and adds "sock" records that rn-track and rn-view join to connections. Processes are
    attributed only for live streams, never for capture files or old recordings. A
    connection's process is the owner of the socket at its end in the capture's network
    namespace, or none when not known; when the other end is on this host too (another
    namespace), its owner is added as peer_process, never as the connection's own. Names
    come from DNS answers seen on the wire, only those that answer a query seen (marked
    hostname_dst_via "dns", shown ~name), and from reverse lookups ("ptr"), made in the
    background (a name found later follows as a "name" record); its own PTR queries are
    marked ptr_lookup_own. GeoIP adds the remote end's country, city and autonomous system
    from MaxMind-format databases (GeoLite2-Country/City/ASN.mmdb, looked for in
    ~/.local/share/GeoIP, /usr/share/GeoIP, /var/lib/GeoIP, ... or given by path).
    """
    check_output_format(fmt, PROG)
    stdin_hint(PROG, inputs)

    def body() -> int:
        from rustnet.enrich import geoip as geoip_db

        geoip = geoip_db.load(PROG, no_geoip, geoip_country, geoip_asn, geoip_city)
        confine(ENRICH_KEEPS)  # no capability it does not need (root's, or a setcap interpreter's)
        # Read /proc, sysfs and the name-service files only; TCP only to DNS (before any thread).
        # Not with process attribution: Landlock forbids looking into processes outside the
        # sandbox (their /proc/PID/fd links and namespaces), which is what attribution does.
        enter_sandbox(
            PROG,
            no_sandbox,
            sandbox_strict,
            reverse_dns=reverse_dns_old or resolve_dns is not False,  # None: on when live
            extra_read=input_files(inputs),
            impossible="" if no_process else PROCESS_ATTRIBUTION,
        )
        stage = Enricher(
            processes=not no_process,
            resolve_dns=True if reverse_dns_old else resolve_dns,
            geoip=geoip,
            poll_interval=poll_interval / 1000.0,
            producer=producer(PROG),
            watch_interval=watch_interval / 1000.0,
        )
        return run_stream_stage(
            PROG, stage, list(inputs), RecordWriter(1, fmt), tick_every=min(0.5, poll_interval / 1000.0)
        )

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
