#!/usr/bin/env python3
"""Test peers for the end-to-end tests: servers that report the address (and
port) they see, a bulk sink that hashes what it receives, and an ICMP echo
watcher. Every operation is bounded in time."""
import hashlib
import selectors
import socket
import struct
import time
import sys
import threading

TIMEOUT = 10


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def handle_tcp(conn, peer):
    conn.settimeout(TIMEOUT)
    try:
        f = conn.makefile("rb")
        cmd = f.readline().strip()
        if cmd == b"who":
            mss = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            conn.sendall(b"peer=%s mss=%d\n" % (peer[0].encode(), mss))
        elif cmd == b"sink":
            h = hashlib.sha256()
            n = 0
            while True:
                b = f.read1(65536)
                if not b:
                    break
                h.update(b)
                n += len(b)
            conn.sendall(b"%s %d\n" % (h.hexdigest().encode(), n))
        else:
            conn.sendall(b"%s\n" % cmd)
    except OSError:
        pass
    finally:
        conn.close()


def serve_tcp(addr, port, name=None):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    while True:
        conn, peer = s.accept()
        if name:
            conn.sendall(b"%s\n" % name.encode())
            conn.close()
            continue
        threading.Thread(target=handle_tcp, args=(conn, peer),
                         daemon=True).start()


def serve_udp(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(b"peer=%s\n" % peer[0].encode(), peer)


def icmp_log(path):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with open(path, "a", buffering=1) as out:
        while True:
            data, peer = s.recvfrom(65535)
            ihl = (data[0] & 15) * 4
            if len(data) > ihl and data[ihl] == 8:
                out.write("echo-request from %s\n" % peer[0])


def connect(host, port):
    c = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    c.settimeout(TIMEOUT)
    return c


def tcp_who(host, port):
    c = connect(host, port)
    c.sendall(b"who\n")
    print(c.makefile("rb").readline().decode().strip())


def tcp_mss(host, port):
    """Print the MSS this end settled on (the peer's SYN-ACK bounds it)."""
    c = connect(host, port)
    c.sendall(b"who\n")
    c.makefile("rb").readline()
    print("mss=%d" % c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))


def udp_pmtu(host, port, size):
    """Send DF datagrams of size bytes until the path MTU drops (2 s)."""
    fam = family(host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, 10, 2)      # IP_MTU_DISCOVER: DO
        level, opt = socket.IPPROTO_IP, 14          # IP_MTU
    else:
        s.setsockopt(socket.IPPROTO_IPV6, 23, 2)    # IPV6_MTU_DISCOVER: DO
        level, opt = socket.IPPROTO_IPV6, 24        # IPV6_MTU
    s.connect((host, int(port)))
    end = time.time() + 2
    while time.time() < end:
        try:
            s.send(b"x" * int(size))
        except OSError:
            pass    # EMSGSIZE: the kernel learnt the smaller MTU
        mtu = s.getsockopt(level, opt)
        if mtu < int(size):
            break
        time.sleep(0.1)
    print("mtu=%d" % s.getsockopt(level, opt))


def tcp_line(host, port):
    c = connect(host, port)
    print(c.makefile("rb").readline().decode().strip())


def udp_who(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(3)
    for _ in range(3):
        s.sendto(b"who", (host, int(port)))
        try:
            print(s.recvfrom(65535)[0].decode().strip())
            return
        except socket.timeout:
            continue
    sys.exit("no UDP answer from %s:%s" % (host, port))


def udp_from(host, port):
    """Send "who" over UDP; print the address the answer came from and the
    answer (an unconnected socket: an answer from a wrong address shows)."""
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(3)
    for _ in range(3):
        s.sendto(b"who", (host, int(port)))
        try:
            data, src = s.recvfrom(65535)
        except socket.timeout:
            continue
        print("from=%s %s" % (src[0], data.decode().strip()))
        return
    sys.exit("no UDP answer from %s:%s" % (host, port))


def tcp_send(host, port, megabytes):
    total = int(megabytes) * 1024 * 1024
    c = connect(host, port)
    c.sendall(b"sink\n")
    h = hashlib.sha256()
    block = bytes((i * 7 + 3) & 0xff for i in range(65536))
    sent = 0
    while sent < total:
        chunk = block[: min(len(block), total - sent)]
        c.sendall(chunk)
        h.update(chunk)
        sent += len(chunk)
    c.shutdown(socket.SHUT_WR)
    c.settimeout(60)
    reply = c.makefile("rb").readline().decode().split()
    ok = reply == [h.hexdigest(), str(total)]
    print("sent %d bytes sha256 %s; backend got %s" % (total, h.hexdigest(), " ".join(reply)))
    sys.exit(0 if ok else 1)


def serve_who(addr, name, ports):
    """TCP and UDP on each port: answer "NAME peer=ADDR port=PORT local=PORT"."""
    sel = selectors.DefaultSelector()
    for port in ports.split(","):
        t = socket.socket(family(addr), socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, int(port)))
        t.listen(64)
        sel.register(t, selectors.EVENT_READ, "tcp")
        u = socket.socket(family(addr), socket.SOCK_DGRAM)
        u.bind((addr, int(port)))
        sel.register(u, selectors.EVENT_READ, "udp")
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "tcp":
                conn, peer = s.accept()
                try:
                    conn.settimeout(TIMEOUT)
                    conn.sendall(b"%s peer=%s port=%d local=%d\n" %
                                 (name.encode(), peer[0].encode(), peer[1],
                                  conn.getsockname()[1]))
                except OSError:
                    pass
                conn.close()
            else:
                data, peer = s.recvfrom(65535)
                s.sendto(b"%s peer=%s port=%d local=%d\n" %
                         (name.encode(), peer[0].encode(), peer[1],
                          s.getsockname()[1]), peer)


def bound(kind, src, sport):
    """A socket of KIND bound to SRC:SPORT."""
    s = socket.socket(family(src), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    s.settimeout(TIMEOUT)
    return s


def tcp_line_from(src, sport, host, port):
    """Connect from SRC:SPORT (0: any port) and print the first line."""
    c = bound(socket.SOCK_STREAM, src, sport)
    c.connect((host, int(port)))
    print(c.makefile("rb").readline().decode().strip())


def tcp_lines_from(sport, host, port, *srcs):
    """Connect from each SRC with the same SPORT, all open at once."""
    conns = []
    for src in srcs:
        c = bound(socket.SOCK_STREAM, src, sport)
        c.connect((host, int(port)))
        conns.append(c)
    for c in conns:
        print(c.makefile("rb").readline().decode().strip())
        c.close()


def lines_each(kind, sport, host, port, *srcs):
    """From each SRC (port SPORT, 0: any) in turn, ask HOST:PORT over KIND
    (tcp or udp) and print the answer line, or "none" when there is none."""
    for src in srcs:
        try:
            if kind == "tcp":
                c = bound(socket.SOCK_STREAM, src, sport)
                c.connect((host, int(port)))
                line = c.makefile("rb").readline().decode().strip()
                c.close()
            else:
                line = udp_ask(host, port, src, sport)
        except OSError as e:
            line = ""
        print(line or "none", flush=True)


def udp_ask(host, port, src, sport):
    """Send "who" over UDP from SRC:SPORT; the answer, or "" (3 tries)."""
    s = bound(socket.SOCK_DGRAM, src, sport)
    s.settimeout(1)
    try:
        for _ in range(3):
            s.sendto(b"who", (host, int(port)))
            try:
                return s.recvfrom(65535)[0].decode().strip()
            except socket.timeout:
                continue
        return ""
    finally:
        s.close()


def udp_line(host, port, src="0.0.0.0", sport="0", tries="3", every="2"):
    """Send "who" over UDP (from SRC:SPORT) and print the answer; up to
    TRIES sends, EVERY seconds apart."""
    s = bound(socket.SOCK_DGRAM, src, sport)
    s.settimeout(float(every))
    for _ in range(int(tries)):
        s.sendto(b"who", (host, int(port)))
        try:
            print(s.recvfrom(65535)[0].decode().strip())
            return
        except socket.timeout:
            continue
    sys.exit("no UDP answer from %s:%s" % (host, port))


def pattern(size, seed=0):
    return bytes((i * 31 + seed) & 0xFF for i in range(int(size)))


def serve_echo(addr, port):
    """UDP: send every datagram back as it came, whatever its size."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def udp_echo(host, port, size, src="", sport="0"):
    """Send SIZE bytes over UDP (from SRC:SPORT), expect them back (3 tries
    of 2 s); exit 0 when the echo is byte-identical."""
    s = bound(socket.SOCK_DGRAM, src or ("::" if ":" in host else "0.0.0.0"),
              sport)
    s.settimeout(2)
    data = pattern(size, 7)
    for _ in range(3):
        s.sendto(data, (host, int(port)))
        try:
            got = s.recvfrom(65535)[0]
        except socket.timeout:
            continue
        print("echoed %d of %d bytes%s" % (len(got), len(data),
              "" if got == data else " (different)"))
        sys.exit(0 if got == data else 1)
    sys.exit("no echo of %s bytes from %s:%s" % (size, host, port))


def ttl_probe(host, port, ttl):
    """One UDP datagram with TTL/hop limit TTL to HOST:PORT: print the ICMP
    error it got (the kernel accepts only errors quoting what it sent),
    "reply" when the echo server answered, or "nothing" (2 s)."""
    fam = family(host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(ttl))
        s.setsockopt(socket.IPPROTO_IP, 11, 1)          # IP_RECVERR
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, int(ttl))
        s.setsockopt(socket.IPPROTO_IPV6, 25, 1)        # IPV6_RECVERR
    s.connect((host, int(port)))
    s.send(b"probe")
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    end = time.time() + 2
    while time.time() < end:
        sel.select(timeout=max(0, end - time.time()))
        try:
            _, anc, _, _ = s.recvmsg(100, 512, socket.MSG_ERRQUEUE |
                                     socket.MSG_DONTWAIT)
        except BlockingIOError:
            anc = None
        for _, _, d in anc or ():
            # struct sock_extended_err, then the offender's sockaddr
            _, origin, typ, code = struct.unpack_from("=IBBB", d)
            off = d[16:]
            if fam == socket.AF_INET:
                who = socket.inet_ntop(fam, off[4:8])
            else:
                who = socket.inet_ntop(fam, off[8:24])
            print("icmp type=%d code=%d from=%s" % (typ, code, who))
            return
        try:
            s.recv(100, socket.MSG_DONTWAIT)
            print("reply")
            return
        except (BlockingIOError, ConnectionRefusedError):
            pass
    print("nothing")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"serve-tcp": serve_tcp, "serve-udp": serve_udp, "icmp-log": icmp_log,
     "tcp-who": tcp_who, "tcp-mss": tcp_mss, "udp-pmtu": udp_pmtu, "tcp-line": tcp_line, "udp-who": udp_who,
     "udp-from": udp_from,
     "tcp-send": tcp_send, "serve-who": serve_who,
     "tcp-line-from": tcp_line_from, "tcp-lines-from": tcp_lines_from,
     "lines-each": lines_each,
     "udp-line": udp_line, "serve-echo": serve_echo, "udp-echo": udp_echo,
     "ttl-probe": ttl_probe}[cmd](*args)
