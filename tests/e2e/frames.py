#!/usr/bin/env python3
"""Raw-frame helper for plainsight's end-to-end tests (standard library only).

  frames.py craft OUT.pcap SRC_MAC DST_MAC   write the transparency test frames
  frames.py craft-extended OUT.pcap SRC DST  the same plus QinQ, fragments, TCP options, a runt
  frames.py same A.pcap B.pcap               the same frames in the same order
  frames.py send IFACE IN.pcap               send every frame of a pcap raw
  frames.py compare SENT.pcap SEEN.pcap      every sent frame was seen, byte for byte
  frames.py count PCAP                       number of frames in a pcap

The crafted frames are what a transparent bridge must pass untouched: a
non-IP ethertype, 802.1Q-tagged UDP with a priority, IPv4 with options and
TTL 1, a UDP datagram with a wrong checksum, IPv6 with extension headers, a
truncated IPv4 header, an LLDP frame to the nearest-bridge group address.
"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ttl=64, options=b"", ident=0x1234):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload),
                      ident, 0, ttl, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def udp4(src, dst, sport, dport, data, bad_csum=False):
    length = 8 + len(data)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    u = struct.pack("!HHHH", sport, dport, length, 0) + data
    c = csum(pseudo + u) or 0xFFFF
    if bad_csum:
        c ^= 0x5A5A
    return u[:6] + struct.pack("!H", c) + u[8:]


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def craft(src, dst):
    s, d = mac(src), mac(dst)
    a, b = "198.18.0.1", "198.18.0.2"
    frames = []
    # 1. non-IP ethertype (local experimental 0x88b5) with a text payload
    frames.append(d + s + b"\x88\xb5" + b"plainsight non-IP frame".ljust(46, b"."))
    # 2. 802.1Q VLAN 100, PCP 5, carrying UDP 198.18.0.1:4000 -> .2:4001 "vlan"
    pl = ipv4(a, b, 17, udp4(a, b, 4000, 4001, b"vlan-tagged datagram"))
    frames.append(d + s + b"\x81\x00" + struct.pack("!H", (5 << 13) | 100) + b"\x08\x00" + pl)
    # 3. two 802.1Q tags (outer 200, inner 100), UDP
    frames.append(d + s + b"\x81\x00\x00\xc8\x81\x00\x00\x64\x08\x00" + pl)
    # 4. IPv4 with a record-route option and TTL 1, UDP
    rr = bytes([7, 11, 4]) + b"\0" * 8 + b"\x00"   # RR, len 11, ptr 4, 2 slots, END
    frames.append(d + s + b"\x08\x00" + ipv4(a, b, 17, udp4(a, b, 4000, 4002, b"options ttl1"),
                                            ttl=1, options=rr))
    # 5. UDP with a wrong checksum
    frames.append(d + s + b"\x08\x00" + ipv4(a, b, 17, udp4(a, b, 4000, 4003, b"bad checksum",
                                                          bad_csum=True)))
    # 6. IPv6 fd00:5053::1 -> ::2, hop-by-hop (PadN) + destination options, UDP
    s6, d6 = socket.inet_pton(socket.AF_INET6, "fd00:5053::1"), socket.inet_pton(socket.AF_INET6, "fd00:5053::2")
    data = b"ipv6 extension headers"
    u = struct.pack("!HHHH", 4000, 4004, 8 + len(data), 0) + data
    pseudo = s6 + d6 + struct.pack("!I3xB", len(u), 17)
    u = u[:6] + struct.pack("!H", csum(pseudo + u) or 0xFFFF) + u[8:]
    hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0])          # next=dst opts, PadN
    dopt = bytes([17, 0, 1, 4, 0, 0, 0, 0])         # next=UDP, PadN
    payload = hbh + dopt + u
    frames.append(d + s + b"\x86\xdd" + struct.pack("!IHBB", 6 << 28, len(payload), 0, 64) + s6 + d6 + payload)
    # 7. truncated IPv4: header says IHL 15 but only 20 bytes follow
    bad = bytearray(ipv4(a, b, 17, b""))
    bad[0] = 0x4F
    frames.append(d + s + b"\x08\x00" + bytes(bad) + b"\0" * 26)
    # 8. LLDP to 01:80:c2:00:00:0e (a Linux bridge would not forward it)
    lldp = b"\x02\x07\x04" + s + b"\x04\x03\x07p0" + b"\x06\x02\x00\x78" + b"\x00\x00"
    frames.append(b"\x01\x80\xc2\x00\x00\x0e" + s + b"\x88\xcc" + lldp.ljust(46, b"\0"))
    return frames


def craft_extended(src, dst):
    """Frames that only a path without a kernel in the middle keeps intact
    (the kernel's af_packet path rewrites an 802.1ad TPID and refuses runts)."""
    s, d = mac(src), mac(dst)
    a, b = "198.18.0.1", "198.18.0.2"
    frames = craft(src, dst)
    pl = ipv4(a, b, 17, udp4(a, b, 4000, 4005, b"qinq"))
    # 802.1ad S-tag 300 + 802.1Q C-tag 100
    frames.append(d + s + b"\x88\xa8\x01\x2c\x81\x00\x00\x64\x08\x00" + pl)
    # pre-standard QinQ 0x9100 outer tag
    frames.append(d + s + b"\x91\x00\x01\x2c\x81\x00\x00\x64\x08\x00" + pl)
    # three tags: refused by the parser (vlan_too_deep), still a frame to bridge
    frames.append(d + s + b"\x88\xa8\x00\x01\x81\x00\x00\x02\x81\x00\x00\x03\x08\x00" + pl)
    # a 3000-byte UDP datagram as three IPv4 fragments (MTU 1500)
    data = bytes(range(256)) * 12
    whole = udp4(a, b, 4000, 4006, data[:3000 - 8])
    for off in range(0, len(whole), 1480):
        chunk = whole[off:off + 1480]
        mf = 0x2000 if off + 1480 < len(whole) else 0
        hdr = bytearray(ipv4(a, b, 17, chunk, ident=0x4242))
        hdr[6:8] = struct.pack("!H", mf | (off // 8))
        hdr[10:12] = b"\0\0"
        hdr[10:12] = struct.pack("!H", csum(bytes(hdr[:20])))
        frames.append(d + s + b"\x08\x00" + bytes(hdr))
    # TCP SYN with MSS, SACK-permitted, timestamps, NOP, window scale
    opts = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 0, (5 + len(opts) // 4) << 4, 0x02, 64240, 0, 0) + opts
    pseudo = socket.inet_aton(a) + socket.inet_aton(b) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    frames.append(d + s + b"\x08\x00" + ipv4(a, b, 6, tcp))
    # a runt: 10 bytes, shorter than an Ethernet header (eth_trunc)
    frames.append(d + s[:4])
    return frames


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1, i, len(fr), len(fr)) + fr)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise SystemExit("%s: not a classic pcap file" % path)
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def main(argv):
    if len(argv) == 5 and argv[1] == "craft":
        write_pcap(argv[2], craft(argv[3], argv[4]))
        return 0
    if len(argv) == 5 and argv[1] == "craft-extended":
        write_pcap(argv[2], craft_extended(argv[3], argv[4]))
        return 0
    if len(argv) == 4 and argv[1] == "same":
        a, b = read_pcap(argv[2]), read_pcap(argv[3])
        if a == b:
            print("%d frames, identical and in order" % len(a))
            return 0
        print("differ: %d frames vs %d" % (len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                print("first difference at frame %d: %s vs %s" % (i + 1, x[:32].hex(), y[:32].hex()))
                break
        return 1
    if len(argv) == 4 and argv[1] == "send":
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((argv[2], 0))
        for fr in read_pcap(argv[3]):
            s.send(fr)
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        sent, seen = read_pcap(argv[2]), read_pcap(argv[3])
        pool = list(seen)
        missing = 0
        for i, fr in enumerate(sent):
            if fr in pool:
                pool.remove(fr)
            else:
                missing += 1
                print("frame %d (%d bytes) not seen unchanged: %s" % (i + 1, len(fr), fr[:64].hex()))
        print("%d of %d frames seen unchanged" % (len(sent) - missing, len(sent)))
        return 1 if missing else 0
    if len(argv) == 3 and argv[1] == "count":
        print(len(read_pcap(argv[2])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
