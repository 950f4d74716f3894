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
from rustnet.cli.privilege import confine, enter_sandbox, input_files, sandbox_options
from rustnet.cli.pump import run_stream_stage
from rustnet.dissect.engine import PROG, Dissector
from rustnet.stream import RecordWriter


@click.command(context_settings=CONTEXT_SETTINGS)
@inputs_argument
@format_option
@click.option("--no-dpi", is_flag=True, help="L2-L4 only: skip application-protocol detection (faster).")
@sandbox_options
@debug_option
@version_option(PROG)
def main(
    inputs: tuple[str, ...], fmt: str, no_dpi: bool, no_sandbox: bool, sandbox_strict: bool, debug: bool
) -> None:
    """Dissect packet records from rn-capture (stdin or FILEs) into packet summaries.

    Link types read: Ethernet (DLT 1), Linux cooked capture (SLL 113, SLL2 276), BSD
    loopback (NULL 0, LOOP 108), raw IP (12, 101, IPv4 228, IPv6 229) and Linux NFLOG (239,
    nflog:N); 802.1Q/QinQ tags, PPPoE sessions and MPLS labels inside them. IPv4 (fragments
    flagged), IPv6 (extension headers skipped), TCP, UDP, ICMP, ICMPv6 and ARP; IP-in-IP and
    GRE unwrapped; VXLAN, Geneve and Teredo datagrams summarised as themselves and as the
    packet inside. DPI for HTTP, TLS, DNS, SSH, QUIC and more unless --no-dpi. Every other
    record passes through in order. Frames that are not IP, or are damaged or cut by
    snaplen, are counted in "dstats" records.
    """
    check_output_format(fmt, PROG)
    stdin_hint(PROG, inputs)

    def body() -> int:
        confine()  # no capability it does not need (root's, or a setcap interpreter's)
        # No file but the named inputs from here on, no TCP (before any thread starts).
        enter_sandbox(PROG, no_sandbox, sandbox_strict, extra_read=input_files(inputs))
        stage = Dissector(dpi=not no_dpi)
        return run_stream_stage(PROG, stage, list(inputs), RecordWriter(1, fmt))

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
