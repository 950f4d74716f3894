"""rn-capture: packets from a live interface or a capture file, as a record stream."""

from __future__ import annotations

import click
from rustnet.capture.interfaces import default_route_interface, is_kernel_interface, is_up, list_interfaces
from rustnet.capture.live import DEFAULT_BUFFER, DEFAULT_SNAPLEN
from rustnet.capture.privdrop import DEFAULT_USER
from rustnet.capture.run import CaptureOptions, printable, run_capture
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    check_output_format,
    debug_option,
    format_option,
    producer,
    run_stage,
    version_option,
)
from rustnet.cli.privilege import sandbox_options
from rustnet.sandbox import mode_of
from rustnet.stream import RecordWriter

PROG = "rn-capture"


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "-i",
    "--interface",
    metavar="IFACE",
    help="Interface to capture on ('any' for all); default: the one of the default route.",
)
@click.option(
    "-r",
    "--read",
    "read_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read packets from a pcap or pcapng file, gzip'd or not ('-' for standard input) instead.",
)
@click.option(
    "-f",
    "--filter",
    "bpf",
    metavar="EXPR",
    default="",
    help="BPF capture filter, as in tcpdump (e.g. 'tcp port 443'); may also follow the options.",
)
@click.option(
    "-s",
    "--snaplen",
    type=click.IntRange(64, DEFAULT_SNAPLEN),
    default=DEFAULT_SNAPLEN,
    show_default=True,
    help="Bytes to capture of each packet.",
)
@click.option("-p", "--no-promisc", is_flag=True, help="Do not put the interface into promiscuous mode.")
@click.option(
    "-B",
    "--buffer-size",
    type=click.IntRange(1, 4096),
    default=DEFAULT_BUFFER >> 20,
    show_default=True,
    metavar="MIB",
    help="Kernel capture buffer, in MiB.",
)
@click.option("-c", "--count", type=click.IntRange(0), default=0, help="Stop after this many packets.")
@click.option(
    "-w",
    "--write",
    "write_pcap",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also write the captured packets to this pcap file.",
)
@click.option(
    "-Z",
    "--user",
    "drop_user",
    metavar="USER",
    default=DEFAULT_USER,
    show_default=True,
    help="When started as root, become this user once the capture is open.",
)
@click.option(
    "--no-drop",
    "--no-uid-drop",
    "no_drop",
    is_flag=True,
    help="Keep root privileges (do not switch to the -Z user).",
)
@click.option(
    "--include-self",
    is_flag=True,
    help="Also capture our own ssh connection (excluded by default when SSH_CONNECTION is set).",
)
@click.option(
    "--stats-interval",
    type=click.FloatRange(0.1, 3600),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="How often a live capture reports its statistics.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Only worker I's share of N (0 <= I < N): the connections whose flow hash falls to it, "
    "both directions. A file is read whole, the other shards' packets written as clock records; "
    "live, the kernel shares the packets out among the N captures (PACKET_FANOUT). Run N of "
    "them, each into its own rn-track --dissect, and rn-merge their outputs.",
)
@click.option(
    "--fanout-group",
    type=click.IntRange(0, 0xFFFF),
    metavar="ID",
    help="Live --shard: the kernel fanout group the N captures share [default: the parent "
    "process id, the same for captures started by one shell or rustnet].",
)
@click.option(
    "--dissect",
    is_flag=True,
    help="Also dissect the packets (with DPI) in this process and write packet summaries, as "
    "rn-capture | rn-dissect would: the packets' bytes never cross a pipe (less CPU, most on "
    "large frames). It runs after root is given up (unless --no-drop), as the packets are read.",
)
@click.option("--list-interfaces", is_flag=True, help="List the interfaces that can be captured on and exit.")
@sandbox_options
@format_option
@debug_option
@version_option(PROG)
@click.argument("expression", nargs=-1)
def main(
    interface: str | None,
    read_file: str | None,
    bpf: str,
    snaplen: int,
    no_promisc: bool,
    buffer_size: int,
    count: int,
    write_pcap: str | None,
    drop_user: str,
    no_drop: bool,
    include_self: bool,
    stats_interval: float,
    shard: str | None,
    fanout_group: int | None,
    dissect: bool,
    list_interfaces: bool,
    no_sandbox: bool,
    sandbox_strict: bool,
    fmt: str,
    debug: bool,
    expression: tuple[str, ...],
) -> None:
    """Capture packets with libpcap and write them as rustnet records.

    Live on Linux, every interface's kernel counters (bytes, packets, errors, drops,
    collisions) follow every 500 ms as ifstats records; a file gives none.

    \b
    Examples:
      sudo rn-capture -i eth0 tcp port 443 | rn-dissect | rn-track --format json
      rn-capture -r trace.pcap | rn-view
      rn-capture -r trace.pcap --dissect | rn-track --format json
      ssh host rn-capture | rn-view
    """
    if list_interfaces:
        _print_interfaces()
        return
    if read_file is not None and interface is not None:
        raise click.UsageError("use either -i/--interface or -r/--read, not both")
    if write_pcap == "-":
        raise click.UsageError("-w - is not supported: standard output carries the record stream")
    if no_sandbox and sandbox_strict:
        raise click.UsageError("--no-sandbox and --sandbox-strict contradict each other")
    check_output_format(fmt, PROG)
    shard_of = None
    if shard is not None:
        from rustnet.capture.shard import ShardSpecError, parse_shard

        try:
            shard_of = parse_shard(shard)
        except ShardSpecError as exc:
            raise click.UsageError(str(exc)) from None
    if fanout_group is not None and (shard_of is None or read_file is not None):
        raise click.UsageError("--fanout-group goes with --shard on a live capture")
    trailing = " ".join(expression)
    opts = CaptureOptions(
        interface=interface,
        read_file=read_file,
        bpf=f"({bpf}) and ({trailing})" if bpf and trailing else (bpf or trailing),
        snaplen=snaplen,
        promisc=not no_promisc,
        buffer_size=buffer_size << 20,
        count=count,
        write_pcap=write_pcap,
        drop_user=None if no_drop else drop_user,
        include_self=include_self,
        stats_interval=stats_interval,
        sandbox_mode=mode_of(no_sandbox, sandbox_strict),
        shard=shard_of,
        fanout_group=fanout_group,
        dissect=dissect,
    )
    run_stage(PROG, lambda: run_capture(opts, RecordWriter(1, fmt), PROG, producer(PROG)), debug=debug)


def _print_interfaces() -> None:
    default = default_route_interface()
    for name in list_interfaces():
        notes = []
        if name == default:
            notes.append("default route")
        if is_kernel_interface(name) and not is_up(name):
            notes.append("down")
        click.echo(printable(name) + (f"  ({', '.join(notes)})" if notes else ""))


if __name__ == "__main__":
    main()
