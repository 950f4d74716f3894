"""rn-export: send connection records to an IPFIX collector, passing every record on."""

from __future__ import annotations

import click
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    StageError,
    check_output_format,
    debug_option,
    format_option,
    inputs_argument,
    producer,
    run_stage,
    stdin_hint,
    version_option,
    warn,
)
from rustnet.cli.privilege import confine, enter_sandbox, input_files, sandbox_options
from rustnet.cli.pump import run_stream_stage
from rustnet.export.ipfix.messages import DEFAULT_PEN, HEADER_LEN, MessageBuilder
from rustnet.export.ipfix.stage import Exporter
from rustnet.export.ipfix.transport import ExportAddressError, Sender, TcpSender, UdpSender, parse_address
from rustnet.stream import RecordWriter

PROG = "rn-export"


@click.command(
    context_settings=CONTEXT_SETTINGS,
    epilog=(
        "Exported per flow: addresses (IPv4 or IPv6), ports, protocol, start and end (ms), packets and "
        "IP-layer octets each way (RFC 5103 biflow: the originator forward, the responder reverse), "
        "flowEndReason, and as enterprise elements 1 (application) and 2 (TLS server name) of --pen. "
        "A collector that is down costs only counted errors, reported on stderr."
    ),
)
@inputs_argument
@format_option
@click.option(
    "--ipfix",
    "target",
    required=True,
    metavar="HOST:PORT",
    help="IPFIX collector to send flows to, e.g. 127.0.0.1:4739 or [::1]:4739 (UDP unless --tcp).",
)
@click.option("--tcp", is_flag=True, help="Send over TCP (reconnecting with backoff) instead of UDP.")
@click.option(
    "--active-timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="A connection still running also gets a flow for what it sent since its previous flow "
    "once that lasted this long (packet time); 0: only each connection's final flow.",
)
@click.option(
    "--template-refresh",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Over UDP, send the templates again this often (0: only in the first message).",
)
@click.option(
    "--max-message",
    type=click.IntRange(HEADER_LEN + 600, 65_000),
    default=1400,
    show_default=True,
    metavar="BYTES",
    help="Largest IPFIX message; over UDP keep it within the path MTU less the IP and UDP headers.",
)
@click.option(
    "--domain-id",
    type=click.IntRange(0, 0xFFFFFFFF),
    default=0,
    show_default=True,
    help="Observation domain id in every message header.",
)
@click.option(
    "--pen",
    type=click.IntRange(1, 0xFFFFFFFF),
    default=DEFAULT_PEN,
    show_default=True,
    help="Private enterprise number of the application and server-name elements (the default is "
    "the one reserved for documentation: rustnet has none of its own).",
)
@debug_option
@sandbox_options
@version_option(PROG)
def main(
    inputs: tuple[str, ...],
    fmt: str,
    target: str,
    tcp: bool,
    active_timeout: float,
    template_refresh: float,
    max_message: int,
    domain_id: int,
    pen: int,
    debug: bool,
    no_sandbox: bool,
    sandbox_strict: bool,
) -> None:
    """Export connection records (rn-track's output, in FILEs or stdin) as IPFIX flows.

    Every record is written on unchanged, so rn-export can sit in a pipeline before rn-view:
    rn-capture -i eth0 | rn-dissect | rn-track | rn-export --ipfix collector:4739 | rn-view
    """
    check_output_format(fmt, PROG)
    try:
        host, port = parse_address(target)
    except ExportAddressError as exc:
        raise click.BadParameter(str(exc), param_hint="--ipfix") from None
    stdin_hint(PROG, inputs)

    def body() -> int:
        confine()  # no capability it does not need (root's, or a setcap interpreter's)
        try:
            sender: Sender = TcpSender(host, port) if tcp else UdpSender(host, port)
        except OSError as exc:
            raise StageError(f"--ipfix {target}: {exc.strerror or exc}") from None
        # The collector's address is resolved: no file but the named inputs, TCP to its port only.
        enter_sandbox(
            PROG,
            no_sandbox,
            sandbox_strict,
            extra_read=input_files(inputs),
            connect_ports=(port,) if tcp else (),
        )
        exporter = Exporter(
            sender,
            MessageBuilder(domain_id, pen, max_message),
            active_timeout=active_timeout,
            template_refresh=0.0 if tcp else template_refresh,
            report=lambda message: warn(PROG, message),
            producer=producer(PROG),
        )
        try:
            status = run_stream_stage(PROG, exporter, list(inputs), RecordWriter(1, fmt))
        finally:
            exporter.close(wait=1.0)
            if exporter.sender.errors or exporter.dropped_flows:
                warn(PROG, exporter.summary())
        return status

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
