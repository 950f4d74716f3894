"""Write ftp.pcap: FTP control connections, crafted with dpkt, and a POP3 one that is not FTP.

    client port  server port  what
    40021        21           vsFTPd-like greeting, USER/PASS, SYST (215), PWD, TYPE, PASV,
                              RETR with its 150/226 replies, a multi-line FEAT reply, QUIT
    40022        2121         the same dialogue on a port that is not FTP's: known by PWD,
                              a command only FTP uses
    40023        110          POP3: USER, PASS, RETR (words FTP shares): not FTP

Each segment holds one line or a few; sequence numbers follow the bytes. Run from the
repository root:

    python tests/data/made/make_ftp.py
"""

from __future__ import annotations

from pathlib import Path

import dpkt

OUT = Path(__file__).with_name("ftp.pcap")
CLIENT = bytes([10, 9, 1, 1])
SERVER = bytes([10, 9, 1, 2])
MSS = 1400  # bytes of one segment at most (frames within the 1500-byte snap length)

FTP_DIALOGUE: list[tuple[bool, bytes]] = [
    (False, b"220 (vsFTPd 3.0.3)\r\n"),
    (True, b"USER alice\r\n"),
    (False, b"331 Please specify the password.\r\n"),
    (True, b"PASS s3cret\r\n"),
    (False, b"230 Login successful.\r\n"),
    (True, b"SYST\r\n"),
    (False, b"215 UNIX Type: L8\r\n"),
    (True, b"FEAT\r\n"),
    (False, b"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n SIZE\r\n211 End\r\n"),
    (True, b"PWD\r\n"),
    (False, b'257 "/home/alice" is the current directory\r\n'),
    (True, b"TYPE I\r\n"),
    (False, b"200 Switching to Binary mode.\r\n"),
    (True, b"PASV\r\n"),
    (False, b"227 Entering Passive Mode (10,9,1,2,156,64).\r\n"),
    (True, b"RETR report 2026.pdf\r\n"),
    (False, b"150 Opening BINARY mode data connection for report 2026.pdf (1234 bytes).\r\n"),
    (False, b"226 Transfer complete.\r\n"),
    (True, b"QUIT\r\n"),
    (False, b"221 Goodbye.\r\n"),
]

POP3_DIALOGUE: list[tuple[bool, bytes]] = [
    (False, b"+OK POP3 server ready\r\n"),
    (True, b"USER bob\r\n"),
    (False, b"+OK\r\n"),
    (True, b"PASS hunter2\r\n"),
    (False, b"+OK 1 messages\r\n"),
    (True, b"RETR 1\r\n"),
    (False, b"+OK 5 octets\r\nhi\r\n.\r\n"),
    (True, b"QUIT\r\n"),
    (False, b"+OK bye\r\n"),
]


class Writer:
    def __init__(self, w: dpkt.pcap.Writer) -> None:
        self.w = w
        self.t = 1_700_000_000.0

    def seg(self, src_c: bool, cport: int, sport: int, seq: int, ack: int, data: bytes, flags: int) -> None:
        tcp = dpkt.tcp.TCP(
            sport=cport if src_c else sport,
            dport=sport if src_c else cport,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            flags=flags,
            win=502,
            data=data,
        )
        ip = dpkt.ip.IP(
            src=CLIENT if src_c else SERVER, dst=SERVER if src_c else CLIENT, p=6, ttl=64, data=tcp
        )
        ip.len = len(ip)
        eth = dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x01\x01" if src_c else b"\x02\x00\x00\x00\x01\x02",
            dst=b"\x02\x00\x00\x00\x01\x02" if src_c else b"\x02\x00\x00\x00\x01\x01",
            data=ip,
        )
        self.w.writepkt(bytes(eth), self.t)
        self.t += 0.01

    def conversation(self, cport: int, sport: int, lines: list[tuple[bool, bytes]]) -> None:
        c, s = 1_000_000, 5_000_000
        ack, syn = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN
        self.seg(True, cport, sport, c - 1, 0, b"", syn)
        self.seg(False, cport, sport, s - 1, c, b"", syn | ack)
        self.seg(True, cport, sport, c, s, b"", ack)
        for from_client, whole in lines:
            for at in range(0, len(whole), MSS):
                data = whole[at : at + MSS]
                if from_client:
                    self.seg(True, cport, sport, c, s, data, ack | dpkt.tcp.TH_PUSH)
                    c += len(data)
                else:
                    self.seg(False, cport, sport, s, c, data, ack | dpkt.tcp.TH_PUSH)
                    s += len(data)
        fin = ack | dpkt.tcp.TH_FIN
        self.seg(False, cport, sport, s, c, b"", fin)
        self.seg(True, cport, sport, c, s + 1, b"", fin)
        self.seg(False, cport, sport, s + 1, c + 1, b"", ack)


def main() -> None:
    with OUT.open("wb") as f:
        w = Writer(dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB))
        w.conversation(40021, 21, FTP_DIALOGUE)
        w.conversation(40022, 2121, FTP_DIALOGUE)
        w.conversation(40023, 110, POP3_DIALOGUE)


if __name__ == "__main__":
    main()
