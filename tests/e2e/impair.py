#!/usr/bin/env python3
"""A small AF_PACKET bridge that delays and reorders frames (this kernel has
no netem). Run it inside a namespace between two interfaces:

  impair.py IF1 IF2 [--reorder PCT] [--delay-ms MS] [--jitter-ms MS] [--seed N]

Every frame received on one interface is sent on the other. PCT percent of
the frames (default 3) are held back for MS + random(0..jitter) ms (default
2 + 4), so frames behind them overtake them: delay, jitter and reordering
in both directions. VLAN tags the kernel took off are put back (with their
TPID) from the packet socket's auxiliary data. Stops on SIGTERM/SIGINT.
"""
import argparse
import heapq
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40


def open_sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def recv_frame(s):
    """One received frame with its VLAN tag restored, or None."""
    try:
        data, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
    except BlockingIOError:
        return None
    if addr[2] == PACKET_OUTGOING:
        return b""      # our own transmission, seen by the tap: skip
    for level, typ, cdata in anc:
        if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= 20:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", cdata[:20])
            if status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID:
                    tpid = 0x8100
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("if1")
    ap.add_argument("if2")
    ap.add_argument("--reorder", type=float, default=3.0)
    ap.add_argument("--delay-ms", type=float, default=2.0)
    ap.add_argument("--jitter-ms", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s1, s2 = open_sock(a.if1), open_sock(a.if2)
    peer = {s1: s2, s2: s1}
    held = []       # (due, seq, sock, frame)
    seq = 0
    stats = {"forwarded": 0, "held": 0}
    running = [True]

    def stop(*_):
        running[0] = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    while running[0]:
        timeout = 0.05
        if held:
            timeout = max(0.0, min(timeout, held[0][0] - time.monotonic()))
        try:
            ready, _, _ = select.select([s1, s2], [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            for _ in range(64):
                fr = recv_frame(s)
                if fr is None:
                    break
                if not fr:
                    continue
                if rnd.random() * 100 < a.reorder:
                    due = time.monotonic() + (a.delay_ms + rnd.random() * a.jitter_ms) / 1000
                    heapq.heappush(held, (due, seq, peer[s], fr))
                    seq += 1
                    stats["held"] += 1
                    continue
                try:
                    peer[s].send(fr)
                    stats["forwarded"] += 1
                except OSError:
                    pass
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, out, fr = heapq.heappop(held)
            try:
                out.send(fr)
                stats["forwarded"] += 1
            except OSError:
                pass
    print("impair: %d frames forwarded, %d held back" % (stats["forwarded"], stats["held"]),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
