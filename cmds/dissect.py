"""rn-dissect: packet records in, one summary per IP/ARP packet out (L2-L4 and DPI)."""

from __future__ import annotations

import click
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    check_output_format,
    debug_option,
    format_option,
    inputs_argument,
    run_stage,
    stdin_hint,
    version_option,
)
from rustnet.cli.privilege import confine
from rustnet.cli.pump import run_stream_stage
from rustnet.dissect.engine import PROG, Dissector
from rustnet.stream import RecordWriter


@click.command(context_settings=CONTEXT_SETTINGS)
@inputs_argument
@format_option
@click.option("--no-dpi", is_flag=True, help="L2-L4 only: skip application-protocol detection (faster).")
@debug_option
@version_option(PROG)
def main(inputs: tuple[str, ...], fmt: str, no_dpi: bool, debug: bool) -> None:
    """Dissect packet records from rn-capture (stdin or FILEs) into packet summaries.

    Ethernet, 802.1Q/QinQ, Linux SLL/SLL2, NULL/LOOP and raw IP; IPv4 (fragments flagged),
    IPv6 (extension headers skipped), TCP, UDP, ICMP, ICMPv6 and ARP; DPI for HTTP, TLS, DNS,
    SSH, QUIC and more unless --no-dpi. Every other record passes through in order. Frames
    that are not IP, or are damaged or cut by snaplen, are counted in "dstats" records.
    """
    check_output_format(fmt, PROG)
    stdin_hint(PROG, inputs)

    def body() -> int:
        confine()  # no capability it does not need (root's, or a setcap interpreter's)
        stage = Dissector(dpi=not no_dpi)
        return run_stream_stage(PROG, stage, list(inputs), RecordWriter(1, fmt))

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
