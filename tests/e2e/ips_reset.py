#!/usr/bin/env python3
"""An IPS that resets: for the inline-tool tests (standard library only).

  ips_reset.py IFACE PREFIX

Watches IFACE (inside the tool's namespace) for IPv4 TCP segments whose
payload starts with PREFIX and answers each one with a RST back to its
sender (the sequence number it acknowledges), as an IPS resetting a
connection does. Dropping the segment itself is left to an nftables rule.
Runs until killed.
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frames import csum  # noqa: E402


def rst_for(frame):
    eth, ip = frame[:14], frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    src, dst = ip[12:16], ip[16:20]
    tcp = ip[ihl:]
    sport, dport, _seq, ack = struct.unpack("!HHII", tcp[:12])
    th = struct.pack("!HHIIBBHHH", dport, sport, ack, 0, 5 << 4, 0x04, 0, 0, 0)
    pseudo = dst + src + struct.pack("!BBH", 0, 6, len(th))
    th = th[:16] + struct.pack("!H", csum(pseudo + th)) + th[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(th), 0, 0x4000, 64, 6, 0, dst, src)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return eth[6:12] + eth[0:6] + eth[12:14] + iph + th


def main(argv):
    iface, prefix = argv[1], argv[2].encode()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    while True:
        frame, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 54 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        if ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        doff = (ip[ihl + 12] >> 4) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        payload = ip[ihl + doff:total]
        if payload.startswith(prefix):
            s.send(rst_for(frame))


if __name__ == "__main__":
    main(sys.argv)
