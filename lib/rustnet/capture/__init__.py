"""Packet capture for rn-capture: libpcap via pcapy-ng, live or from files.

``run`` ties the pieces together in least-privilege order: ``interfaces`` picks and
checks the interface, ``live`` (non-blocking handle + select, batched reads) or
``offline`` (pcap/pcapng, exact wire lengths, stops at damage) reads packets, ``bpf``
builds the filter (without our own ssh session), ``pcapwrite`` keeps a ``-w`` copy,
``privdrop`` gives up root once the handle is open, ``signals`` turns SIGINT, SIGTERM
and SIGHUP into a clean end of the stream.
"""
