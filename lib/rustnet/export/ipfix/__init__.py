"""rn-export: connection records to IPFIX collectors, every record passed on unchanged.

:mod:`.messages` builds RFC 7011 messages of RFC 5103 biflows, :mod:`.transport` sends them over
UDP or TCP without holding up the stream, :mod:`.stage` is the stage rn-export runs.
"""
