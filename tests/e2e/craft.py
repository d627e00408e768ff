#!/usr/bin/env python3
"""Hostile and heavy traffic for the hardening tests: malformed packets and
spoofed SYN floods written as raw Ethernet frames, many TCP connections held
open at once, bursts of new UDP flows (and thousands answered once), a paced
bulk transfer, a connection that must get in within a deadline. Every operation
is bounded in time. Addresses come from the caller (documentation and
private ranges only)."""
import hashlib
import os
import selectors
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def a4(s):
    return socket.inet_pton(socket.AF_INET, s)


def a6(s):
    return socket.inet_pton(socket.AF_INET6, s)


def ip4(src, dst, proto, payload, ihl=5, tot=None, bad_csum=False,
        frag=0, ident=0x1234, ttl=64):
    tot = 20 + len(payload) if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, ident, frag, ttl,
                    proto, 0, a4(src), a4(dst))
    c = csum(h)
    if bad_csum:
        c ^= 0x5A5A
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, hlim,
                       a6(src), a6(dst)) + payload


def pseudo(src, dst, proto, length):
    if ":" in src:
        return a6(src) + a6(dst) + struct.pack("!IxxxB", length, proto)
    return a4(src) + a4(dst) + struct.pack("!xBH", proto, length)


def udp(src, dst, sport, dport, data, bad_csum=False, ulen=None):
    ln = 8 + len(data) if ulen is None else ulen
    h = struct.pack("!HHHH", sport, dport, ln, 0) + data
    c = csum(pseudo(src, dst, 17, 8 + len(data)) + h) or 0xFFFF
    if bad_csum:
        c ^= 0x5A5A
    return h[:6] + struct.pack("!H", c) + h[8:]


def tcp(src, dst, sport, dport, flags, seq=1000, doff=5, bad_csum=False):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags,
                    65535, 0, 0)
    c = csum(pseudo(src, dst, 6, len(h)) + h)
    if bad_csum:
        c ^= 0x5A5A
    return h[:16] + struct.pack("!H", c) + h[18:]


def icmp4_unreach(quote):
    h = struct.pack("!BBHI", 3, 3, 0, 0) + quote
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def frag6(nh, off, more, ident):
    return struct.pack("!BBHI", nh, 0, off | (1 if more else 0), ident)


def packets(kind, c4, p4, c6, p6, n):
    """The frames of one class of malformed packet (IP layer and up)."""
    out = []
    for i in range(n):
        sp = 20000 + i % 20000
        u4 = udp(c4, p4, sp, 53, b"hostile")
        if kind == "k4-ihl":        # IHL 4: below the minimum header
            out.append(ip4(c4, p4, 17, u4, ihl=4))
        elif kind == "k4-ipcsum":   # wrong IPv4 header checksum
            out.append(ip4(c4, p4, 17, u4, bad_csum=True))
        elif kind == "k4-totlen":   # total length beyond the frame
            out.append(ip4(c4, p4, 17, u4, tot=20 + len(u4) + 200))
        elif kind == "e4-udplen":   # UDP length beyond the datagram
            out.append(ip4(c4, p4, 17, udp(c4, p4, sp, 53, b"x", ulen=400)))
        elif kind == "e4-tcpdoff":  # TCP data offset 4 (16 bytes)
            out.append(ip4(c4, p4, 6, tcp(c4, p4, sp, 80, 0x02, doff=4)))
        elif kind == "e4-udpcsum":  # wrong UDP checksum on a new flow
            out.append(ip4(c4, p4, 17, udp(c4, p4, sp, 53, b"x", True)))
        elif kind == "e4-syncsum":  # SYN with a wrong TCP checksum
            out.append(ip4(c4, p4, 6, tcp(c4, p4, sp, 80, 0x02,
                                          bad_csum=True)))
        elif kind == "e4-fragbig":  # reassembles past 65535 bytes
            out.append(ip4(c4, p4, 17, b"\0" * 16, frag=65528 // 8,
                           ident=i & 0xFFFF))
        elif kind == "e4-fragodd":  # not last, not a multiple of 8 bytes
            out.append(ip4(c4, p4, 17, b"\0" * 20, frag=0x2000 | 1,
                           ident=i & 0xFFFF))
        elif kind == "o4-overlap":  # two fragments that overlap
            d = udp(c4, p4, sp, 53, b"A" * 24)
            out.append(ip4(c4, p4, 17, d[:16], frag=0x2000,
                           ident=(i + 7) & 0xFFFF))
            out.append(ip4(c4, p4, 17, b"B" * 24, frag=1,
                           ident=(i + 7) & 0xFFFF))
        elif kind == "e4-icmp-noflow":  # error about a flow nobody has
            q = ip4(p4, c4, 17, udp(p4, c4, 53, 40000 + i % 20000, b"q"))
            out.append(ip4(c4, p4, 1, icmp4_unreach(q)))
        elif kind == "e6-twofrag":  # two fragment headers
            u6 = udp(c6, p6, sp, 53, b"hostile")
            body = frag6(44, 0, False, i) + frag6(17, 0, False, i) + u6
            out.append(ip6(c6, p6, 44, body))
        elif kind == "e6-fragodd":
            body = frag6(17, 8, True, i) + b"\0" * 20
            out.append(ip6(c6, p6, 44, body))
        elif kind == "e6-udpcsum":
            out.append(ip6(c6, p6, 17, udp(c6, p6, sp, 53, b"x", True)))
        else:
            sys.exit("unknown class " + kind)
    return out


def raw_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    return s


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def send_frames(iface, dst_mac, frames, pps=0):
    s = raw_socket(iface)
    src = mac(open("/sys/class/net/%s/address" % iface).read().strip())
    dst = mac(dst_mac)
    t0 = time.monotonic()
    for i, f in enumerate(frames):
        et = ETH_P_IPV6 if f[0] >> 4 == 6 else ETH_P_IP
        s.send(dst + src + struct.pack("!H", et) + f)
        if pps and i % 64 == 63:
            ahead = (i + 1) / pps - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    return len(frames)


def cmd_hostile(iface, dst_mac, kind, c4, p4, c6, p6, n, pps="5000"):
    """Send N packets of one malformed class (PPS frames a second at most);
    print how many frames."""
    print(send_frames(iface, dst_mac, packets(kind, c4, p4, c6, p6, int(n)),
                      int(pps)))


def cmd_synflood(iface, dst_mac, dst, port, n, pps):
    """N SYNs from spoofed sources in 192.0.2.0/24 and 203.0.113.0/24."""
    frames = []
    for i in range(int(n)):
        net = "192.0.2." if i % 2 else "203.0.113."
        src = net + str(1 + (i // 2) % 254)
        frames.append(ip4(src, dst, 6, tcp(src, dst, 1024 + i % 60000,
                                           int(port), 0x02, seq=i)))
    print(send_frames(iface, dst_mac, frames, int(pps)))


def cmd_hold(host, port, n, seconds, src="0.0.0.0"):
    """Open up to N TCP connections one after another (3 s each to connect:
    a lost SYN is sent again after 1 s; stop at the second failure) and keep
    them SECONDS. Prints "held K" at once (K connected), then exits after
    SECONDS."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    held, failed = [], 0
    for _ in range(int(n)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(3)
        try:
            s.connect((host, int(port)))
            s.sendall(b"sink\n")
            held.append(s)
        except OSError:
            s.close()
            failed += 1
            if failed == 2:
                break
    print("held %d" % len(held), flush=True)
    time.sleep(float(seconds))
    for s in held:
        s.close()


def cmd_serve_hold(addr, port, seconds):
    """Accept TCP connections on ADDR:PORT (dual-stack on "::") and keep
    each open, reading what comes, until its peer closes it or SECONDS
    have passed since the start; then exit."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0, end - time.monotonic())):
            if key.fileobj is ls:
                conn, peer = ls.accept()
                conn.setblocking(False)
                conn.sendall(b"peer=%s\n" % peer[0].encode())
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def udp_flows(host, port, n, src, connected):
    """N new UDP flows at once, one socket each; wait 2 s at most for what
    comes back. A connected socket also gets the ICMP error the kernel
    accepts as quoting its datagram. Returns (answered, refused)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    for _ in range(int(n)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        if connected:
            s.connect((host, int(port)))
        s.setblocking(False)
        s.sendto(b"who", (host, int(port)))
        socks.append(s)
    got = refused = 0
    end = time.monotonic() + 2
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    while sel.get_map() and time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0, end - time.monotonic())):
            try:
                key.fileobj.recv(100)
                got += 1
            except OSError:
                refused += 1
            sel.unregister(key.fileobj)
    return got, refused


def cmd_udp_burst(host, port, n, src="0.0.0.0"):
    """N new UDP flows (one socket each, sent at once); print answers."""
    print("answered %d" % udp_flows(host, port, n, src, False)[0])


def cmd_udp_refused(host, port, n, src="0.0.0.0"):
    """N new UDP flows at once on connected sockets; after 2 s print
    "answered A refused R silent S" (refused: an ICMP error came back)."""
    got, refused = udp_flows(host, port, n, src, True)
    print("answered %d refused %d silent %d" %
          (got, refused, int(n) - got - refused))


def cmd_udp_once(host, port, n, sport0, batch="32"):
    """N UDP flows, one datagram each from the ports SPORT0..SPORT0+N-1,
    BATCH at a time (each batch waits 0.2 s at most for its answers);
    print how many were answered and how long it took."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    n, sport0, batch = int(n), int(sport0), int(batch)
    got = 0
    t0 = time.monotonic()
    for first in range(0, n, batch):
        sel = selectors.DefaultSelector()
        for p in range(sport0 + first, sport0 + min(n, first + batch)):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", p))
            s.setblocking(False)
            s.sendto(b"who", (host, int(port)))
            sel.register(s, selectors.EVENT_READ)
        end = time.monotonic() + 0.2
        while sel.get_map() and time.monotonic() < end:
            for key, _ in sel.select(timeout=max(0, end - time.monotonic())):
                try:
                    key.fileobj.recv(100)
                    got += 1
                except OSError:
                    pass
                sel.unregister(key.fileobj)
                key.fileobj.close()
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
    print("answered %d of %d in %.1f s" % (got, n, time.monotonic() - t0))


def cmd_tcp_within(host, port, seconds):
    """One TCP connection that must be answered ("who") within SECONDS
    (connect included); print the answer and the time; exit 1 if late."""
    t0 = time.monotonic()
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(float(seconds))
    try:
        c.connect((host, int(port)))
        c.settimeout(max(0.01, float(seconds) - (time.monotonic() - t0)))
        c.sendall(b"who\n")
        line = c.makefile("rb").readline().decode().strip()
    except OSError as e:
        print("no answer in %.2f s: %s" % (time.monotonic() - t0, e))
        sys.exit(1)
    dt = time.monotonic() - t0
    print("%s in %.3f s" % (line, dt))
    sys.exit(0 if line and dt <= float(seconds) else 1)


def cmd_send_paced(host, port, megabytes, seconds, ready=None):
    """Send MEGABYTES to the sink, spread over about SECONDS; exit 0 when
    the backend's hash matches. Touches READY once connected."""
    total = int(megabytes) * 1024 * 1024
    c = socket.create_connection((host, int(port)), timeout=10)
    c.settimeout(60)
    c.sendall(b"sink\n")
    if ready:
        open(ready, "w").close()
    h = hashlib.sha256()
    block = bytes((i * 13 + 5) & 0xFF for i in range(65536))
    sent = 0
    t0 = time.monotonic()
    while sent < total:
        chunk = block[: min(len(block), total - sent)]
        c.sendall(chunk)
        h.update(chunk)
        sent += len(chunk)
        ahead = sent / total * float(seconds) - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    c.shutdown(socket.SHUT_WR)
    reply = c.makefile("rb").readline().decode().split()
    dt = time.monotonic() - t0
    ok = reply == [h.hexdigest(), str(total)]
    print("sent %d bytes in %.2f s (%.0f Mbit/s); backend got %s"
          % (total, dt, total * 8 / dt / 1e6, " ".join(reply[1:])))
    sys.exit(0 if ok else 1)


def cmd_send_after(host, port, megabytes, go, ready):
    """Connect to the sink (touch READY), wait for the file GO (60 s at
    most), then send MEGABYTES at full speed; print the rate; exit 0 when
    the backend's hash matches."""
    total = int(megabytes) * 1024 * 1024
    c = socket.create_connection((host, int(port)), timeout=10)
    c.settimeout(60)
    c.sendall(b"sink\n")
    open(ready, "w").close()
    end = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < end:
        time.sleep(0.05)
    h = hashlib.sha256()
    block = bytes((i * 11 + 1) & 0xFF for i in range(65536))
    sent = 0
    t0 = time.monotonic()
    while sent < total:
        chunk = block[: min(len(block), total - sent)]
        c.sendall(chunk)
        h.update(chunk)
        sent += len(chunk)
    c.shutdown(socket.SHUT_WR)
    reply = c.makefile("rb").readline().decode().split()
    dt = time.monotonic() - t0
    print("%.0f Mbit/s (%d bytes in %.2f s)" % (total * 8 / dt / 1e6, total, dt))
    sys.exit(0 if reply == [h.hexdigest(), str(total)] else 1)


def cmd_stalled_stderr(pidfile, *argv):
    """Run ARGV with stderr on a stream socket that is never read (a stalled
    journal); write the child's pid to PIDFILE; wait for it (200 s at most)."""
    import subprocess
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    p = subprocess.Popen(argv, stderr=a, stdout=subprocess.DEVNULL)
    a.close()
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % p.pid)
    os.rename(pidfile + ".tmp", pidfile)
    try:
        p.wait(timeout=200)
    except subprocess.TimeoutExpired:
        p.kill()
    b.close()


def cmd_ctl_cut(path, command, nbytes):
    """Ask the control socket COMMAND, read NBYTES of the answer, hang up."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(command.encode() + b"\n")
    got = s.recv(int(nbytes))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("read %d bytes, hung up" % len(got))


def fragments(src, dst, sport, dport, data, size, ident):
    """A UDP datagram as IP fragments of at most SIZE payload bytes each
    (IPv4, or IPv6 with a fragment header), in order."""
    d = udp(src, dst, sport, dport, data)
    size -= size % 8
    out = []
    for off in range(0, len(d), size):
        chunk, more = d[off:off + size], off + size < len(d)
        if ":" in src:
            out.append(ip6(src, dst, 44, frag6(17, off, more, ident) + chunk))
        else:
            out.append(ip4(src, dst, 17, chunk, ident=ident & 0xFFFF,
                           frag=(0x2000 if more else 0) | off // 8))
    return out


def frag_order(frames, order):
    """The fragments in ORDER: fwd, or rev (last first)."""
    return frames[::-1] if order == "rev" else frames


def cmd_frag_echo(iface, dst_mac, src, dst, sport, dport, size, order):
    """Send SIZE bytes to DST:DPORT from a socket bound to SRC:SPORT, as raw
    IP fragments in ORDER (fwd or rev); wait 2 s for the echo on the socket
    (three tries); exit 0 when it is byte-identical."""
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    s.settimeout(2)
    data = bytes((i * 29 + 3) & 0xFF for i in range(int(size)))
    for i in range(3):
        frames = fragments(src, dst, int(sport), int(dport), data,
                           1232 if fam == socket.AF_INET6 else 1480,
                           int.from_bytes(os.urandom(4), "big"))
        send_frames(iface, dst_mac, frag_order(frames, order))
        try:
            got = s.recvfrom(65535)[0]
        except socket.timeout:
            continue
        print("echoed %d of %d bytes (%d fragments sent %s)%s" % (
            len(got), len(data), len(frames), order,
            "" if got == data else ", different"))
        sys.exit(0 if got == data else 1)
    sys.exit("no echo from %s:%s" % (dst, dport))


def cmd_serve_frag_echo(iface, gw_mac, addr, port, order):
    """UDP on ADDR:PORT: answer every datagram with the same bytes, written
    as raw IP fragments in ORDER through the gateway GW_MAC."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(65535)
        frames = fragments(addr, peer[0], int(port), peer[1], data,
                           1232 if fam == socket.AF_INET6 else 1480,
                           int.from_bytes(os.urandom(4), "big"))
        send_frames(iface, gw_mac, frag_order(frames, order))


def cmd_icmp_error(iface, dst_mac, src, dst, mtu, qsrc, qsport, qdst, qdport):
    """An ICMP "fragmentation needed" (IPv4) or ICMPv6 "packet too big" with
    next-hop MTU from SRC (a router) to DST, quoting a UDP packet
    QSRC:QSPORT -> QDST:QDPORT of MTU + 20 bytes (its first bytes)."""
    q = udp(qsrc, qdst, int(qsport), int(qdport), b"q" * (int(mtu) + 20))
    if ":" in src:
        q = ip6(qsrc, qdst, 17, q)[:1232]
        h = struct.pack("!BBHI", 2, 0, 0, int(mtu)) + q
        c = csum(pseudo(src, dst, 58, len(h)) + h)
        frame = ip6(src, dst, 58, h[:2] + struct.pack("!H", c) + h[4:])
    else:
        q = ip4(qsrc, qdst, 17, q)[:548]
        h = struct.pack("!BBHHH", 3, 4, 0, 0, int(mtu)) + q
        frame = ip4(src, dst, 1, h[:2] + struct.pack("!H", csum(h)) + h[4:])
    print(send_frames(iface, dst_mac, [frame]))


def sniff_next_seq(sn, src, lport):
    """The sequence number after the last segment from src:lport sniffed."""
    nxt = None
    sn.setblocking(False)
    while True:
        try:
            f = sn.recv(70000)
        except BlockingIOError:
            return nxt
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ip = f[14:]
        hl = (ip[0] & 15) * 4
        th = ip[hl:]
        if ip[12:16] != a4(src) or struct.unpack("!H", th[:2])[0] != lport:
            continue
        tot = struct.unpack("!H", ip[2:4])[0]
        seq = struct.unpack("!I", th[4:8])[0]
        end = (seq + tot - hl - (th[12] >> 4) * 4) & 0xFFFFFFFF
        if nxt is None or 0 < ((end - nxt) & 0xFFFFFFFF) < 1 << 31:
            nxt = end
    return nxt


def cmd_rst_outside(iface, dst_mac, src, dst, port, ready, go):
    """Open a sink connection to dst:port, send data, forge an RST from it
    2^31 away from its sequence numbers, write "PORT" to ready, wait for go,
    send more; print "ok BYTES" when the sink got everything."""
    sn = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    sn.bind((iface, 0))
    c = socket.create_connection((dst, int(port)), timeout=10)
    lport = c.getsockname()[1]
    data = b"sink\n" + os.urandom(65536)
    c.sendall(data)
    time.sleep(0.5)
    nxt = sniff_next_seq(sn, src, lport)
    if nxt is None:
        print("no segment sniffed")
        return
    rst = tcp(src, dst, lport, int(port), 0x04, (nxt + (1 << 31)) & 0xFFFFFFFF)
    send_frames(iface, dst_mac, [ip4(src, dst, 6, rst)])
    time.sleep(0.3)
    with open(ready, "w") as f:
        f.write("%d\n" % lport)
    t = time.monotonic() + 15
    while not os.path.exists(go) and time.monotonic() < t:
        time.sleep(0.05)
    more = os.urandom(65536)
    c.sendall(more)
    c.shutdown(socket.SHUT_WR)
    reply = c.makefile("rb").readline().split()
    n = len(data) + len(more) - 5
    want = hashlib.sha256(data[5:] + more).hexdigest().encode()
    if len(reply) == 2 and reply[0] == want and int(reply[1]) == n:
        print("ok %d" % n)
    else:
        print("bad reply %r" % reply)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"hostile": cmd_hostile, "synflood": cmd_synflood, "hold": cmd_hold,
     "udp-burst": cmd_udp_burst,
     "udp-refused": cmd_udp_refused,
     "serve-hold": cmd_serve_hold, "udp-once": cmd_udp_once,
     "tcp-within": cmd_tcp_within, "send-paced": cmd_send_paced,
     "send-after": cmd_send_after, "stalled-stderr": cmd_stalled_stderr,
     "ctl-cut": cmd_ctl_cut, "frag-echo": cmd_frag_echo,
     "serve-frag-echo": cmd_serve_frag_echo,
     "icmp-error": cmd_icmp_error, "rst-outside": cmd_rst_outside}[cmd](*args)
    sys.stdout.flush()
