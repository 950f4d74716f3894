"""Link layers from literal bytes: each DLT rn-dissect reads, VLAN stacks, PPPoE, MPLS."""

from __future__ import annotations

import struct

import pytest
from rustnet.dissect import link
from rustnet.dissect.info import Malformed

from tests import dissect_frames as F


def test_ethernet_plain() -> None:
    frame = bytes.fromhex("ffffffffffff0200000000010800") + b"E" * 20
    assert link.ethernet(frame) == (0x0800, 14, None)


def test_ethernet_ipv6_and_arp_ethertypes() -> None:
    assert link.ethernet(F.eth(b"", 0x86DD))[0] == link.ETH_IPV6
    assert link.ethernet(F.eth(b"", 0x0806))[0] == link.ETH_ARP


def test_ethernet_single_vlan_keeps_the_id() -> None:
    frame = bytes.fromhex("ffffffffffff0200000000018100607b0800")  # PCP 3, VID 123
    assert link.ethernet(frame) == (0x0800, 18, [123])


def test_vlan_id_zero_is_kept() -> None:
    # Priority-tagged frames carry VID 0: still a tag, still reported.
    assert link.ethernet(F.eth(b"", vlans=(0,))) == (0x0800, 18, [0])


@pytest.mark.parametrize("tpid", [0x8100, 0x88A8, 0x9100])
def test_stacked_tags_outer_first(tpid: int) -> None:
    frame = F.eth(b"", 0x86DD, vlans=(30, 20, 10), tpid=tpid)
    assert link.ethernet(frame) == (0x86DD, 26, [30, 20, 10])


def test_vlan_stack_too_deep_is_malformed() -> None:
    frame = F.eth(b"", vlans=tuple(range(1, 12)))
    with pytest.raises(Malformed):
        link.ethernet(frame)


def test_vlan_tag_cut_is_a_short_read() -> None:
    frame = F.eth(b"", vlans=(5,))[:16]
    with pytest.raises(struct.error):
        link.ethernet(frame)


def test_ethernet_shorter_than_its_header() -> None:
    with pytest.raises(struct.error):
        link.ethernet(b"\x00" * 13)


def test_8023_length_field_is_not_ip() -> None:
    frame = F.eth(b"\x42\x42\x03" + b"\0" * 40, etype=46)  # 802.3 + LLC (STP)
    etype, _, _ = link.ethernet(frame)
    assert etype == 46 and etype not in (link.ETH_IPV4, link.ETH_IPV6, link.ETH_ARP)


def test_pppoe_session_ipv4_and_ipv6() -> None:
    for ppp, want in ((0x0021, link.ETH_IPV4), (0x0057, link.ETH_IPV6), (0xC021, link.ETH_NONE)):
        pppoe = struct.pack("!BBHHH", 0x11, 0, 0x1234, 22, ppp)
        frame = F.eth(pppoe + b"\x45" + b"\0" * 19, 0x8864, vlans=(421, 785))
        assert link.ethernet(frame) == (want, 14 + 8 + 8, [421, 785])


def test_mpls_label_stack() -> None:
    labels = struct.pack("!II", 100 << 12 | 64, 200 << 12 | 0x100 | 64)  # second is bottom of stack
    frame = F.eth(labels + F.ipv6(b""), 0x8847)
    assert link.ethernet(frame) == (link.ETH_IPV6, 14 + 8, None)


def test_mpls_without_bottom_of_stack_is_malformed() -> None:
    frame = F.eth(struct.pack("!I", 100 << 12) * 20, 0x8847)
    with pytest.raises(Malformed):
        link.ethernet(frame)


def test_linux_sll() -> None:
    frame = bytes.fromhex("00000001000602000000000100000806") + b"\0" * 28
    assert link.linux_sll(frame) == (0x0806, 16, None)
    assert link.linux_sll(F.sll(b"", 0x86DD)) == (0x86DD, 16, None)


def test_linux_sll_with_vlan() -> None:
    frame = F.sll(struct.pack("!HH", 7, 0x0800), 0x8100)
    assert link.linux_sll(frame) == (0x0800, 20, [7])


def test_linux_sll2() -> None:
    frame = bytes.fromhex("0800000000000003000104060200000000010000") + b"E"
    assert link.linux_sll2(frame) == (0x0800, 20, None)
    with pytest.raises(struct.error):
        link.linux_sll2(frame[:19])


@pytest.mark.parametrize(
    "af,want",
    [
        (2, link.ETH_IPV4),
        (10, link.ETH_IPV6),
        (24, link.ETH_IPV6),
        (28, link.ETH_IPV6),
        (30, link.ETH_IPV6),
        (7, link.ETH_NONE),
    ],
)
@pytest.mark.parametrize("big_endian", [False, True])
def test_null_either_byte_order(af: int, want: int, big_endian: bool) -> None:
    assert link.null(F.null(b"", af, big_endian)) == (want, 4, None)


def test_loop_is_network_order() -> None:
    assert link.loop(bytes.fromhex("00000002")) == (link.ETH_IPV4, 4, None)
    assert link.loop(bytes.fromhex("0000001e")) == (link.ETH_IPV6, 4, None)
    assert link.loop(bytes.fromhex("02000000"))[0] == link.ETH_NONE


def test_raw_ip_by_version_nibble() -> None:
    assert link.raw(b"\x45" + b"\0" * 19) == (link.ETH_IPV4, 0, None)
    assert link.raw(b"\x60" + b"\0" * 39) == (link.ETH_IPV6, 0, None)
    assert link.raw(b"\x20")[0] == link.ETH_NONE
    with pytest.raises(struct.error):
        link.raw(b"")
    assert link.raw_ipv4(b"") == (link.ETH_IPV4, 0, None)
    assert link.raw_ipv6(b"") == (link.ETH_IPV6, 0, None)


@pytest.mark.parametrize(
    "dlt,decoder",
    [
        (1, link.ethernet),
        (113, link.linux_sll),
        (276, link.linux_sll2),
        (0, link.null),
        (108, link.loop),
        (12, link.raw),
        (101, link.raw),
        (228, link.raw_ipv4),
        (229, link.raw_ipv6),
    ],
)
def test_decoder_for_each_dlt(dlt: int, decoder: link.Decoder) -> None:
    assert link.decoder_for(dlt) is decoder


@pytest.mark.parametrize("lt", [None, 9999, "1", 1.0, True, [1]])
def test_unknown_link_types(lt: object) -> None:
    assert link.decoder_for(lt) is None
