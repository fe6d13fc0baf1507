#!/usr/bin/env python3
"""TCP peers for plainsight's end-to-end tests (standard library only).

  tcpkit.py echo-server ADDR PORT             echo every connection (until killed)
  tcpkit.py storm ADDR PORT N [SECONDS]       N concurrent connections, each sends
                                              its own line and checks the echo;
                                              prints "ok N" or what failed
  tcpkit.py rst-server ADDR PORT BYTES        accept one connection, send BYTES,
                                              then abort it (RST)
  tcpkit.py rst-client ADDR PORT BYTES        connect, read BYTES, abort (RST)
  tcpkit.py read-until-reset ADDR PORT SECS   connect, read until the peer resets
                                              (exit 0) or closes/times out (exit 1)
  tcpkit.py connect ADDR PORT SECS            connect once: prints refused,
                                              timeout or connected, and seconds
"""
import errno
import selectors
import socket
import struct
import sys
import time


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def abort(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def echo_server(addr, port):
    sel = selectors.DefaultSelector()
    ls = socket.socket(fam(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, b"")
                continue
            c = key.fileobj
            try:
                d = c.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(c)
                c.close()
                continue
            try:
                c.sendall(d)
            except OSError:
                sel.unregister(c)
                c.close()


def storm(addr, port, n, seconds):
    sel = selectors.DefaultSelector()
    want, got = {}, {}
    for i in range(n):
        s = socket.socket(fam(addr), socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((addr, port))
        want[s] = ("conn-%d\n" % i).encode()
        got[s] = b""
        sel.register(s, selectors.EVENT_WRITE)
    deadline = time.time() + seconds
    ok = 0
    open_ = set(want)
    while open_ and time.time() < deadline:
        for key, ev in sel.select(timeout=0.5):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(s)
                    open_.discard(s)
                    continue
                s.send(want[s])
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            got[s] += d
            if got[s] == want[s]:
                ok += 1
            if not d or got[s] == want[s]:
                sel.unregister(s)
                open_.discard(s)
    for s in want:
        s.close()
    print("ok %d" % ok if ok == n else "only %d of %d echoed" % (ok, n))
    return 0 if ok == n else 1


def rst_server(addr, port, nbytes):
    ls = socket.socket(fam(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    c, _ = ls.accept()
    c.sendall(b"x" * nbytes)
    time.sleep(0.5)
    abort(c)
    ls.close()
    return 0


def rst_client(addr, port, nbytes):
    s = socket.create_connection((addr, port), timeout=10)
    left = nbytes
    while left > 0:
        d = s.recv(min(left, 65536))
        if not d:
            return 1
        left -= len(d)
    abort(s)
    return 0


def read_until_reset(addr, port, secs):
    s = socket.create_connection((addr, port), timeout=secs)
    deadline = time.time() + secs
    try:
        while time.time() < deadline:
            d = s.recv(65536)
            if not d:
                print("closed without a reset")
                return 1
    except ConnectionResetError:
        print("reset")
        return 0
    except socket.timeout:
        pass
    print("no reset in time")
    return 1


def connect(addr, port, secs):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.settimeout(secs)
    t = time.time()
    try:
        s.connect((addr, port))
        r = "connected"
    except ConnectionRefusedError:
        r = "refused"
    except socket.timeout:
        r = "timeout"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e))
    print("%s %.1f" % (r, time.time() - t))
    s.close()
    return 0


def main(a):
    if len(a) == 4 and a[1] == "echo-server":
        return echo_server(a[2], int(a[3]))
    if len(a) in (5, 6) and a[1] == "storm":
        return storm(a[2], int(a[3]), int(a[4]), float(a[5]) if len(a) == 6 else 60)
    if len(a) == 5 and a[1] == "rst-server":
        return rst_server(a[2], int(a[3]), int(a[4]))
    if len(a) == 5 and a[1] == "rst-client":
        return rst_client(a[2], int(a[3]), int(a[4]))
    if len(a) == 5 and a[1] == "read-until-reset":
        return read_until_reset(a[2], int(a[3]), float(a[4]))
    if len(a) == 5 and a[1] == "connect":
        return connect(a[2], int(a[3]), float(a[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
