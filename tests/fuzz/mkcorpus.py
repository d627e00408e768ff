#!/usr/bin/env python3
"""mkcorpus.py - generate the seed corpora of the NAT engine fuzz harnesses.

    python3 tests/fuzz/mkcorpus.py [OUTDIR]      (default: tests/fuzz/corpus)

Writes OUTDIR/packet/* (inputs of fuzz_packet.c) and OUTDIR/sequence/*
(inputs of fuzz_sequence.c). Every packet is built here with valid
checksums; the addresses and rules are those of tests/fuzz/fuzz_common.h.
The output is deterministic, so the committed corpus can be regenerated
and compared.
"""

import ipaddress
import os
import shutil
import struct
import sys

# --- the scenario of fuzz_common.h -------------------------------------------

PUB4, PUB4B = "203.0.113.1", "203.0.113.2"
BACK4, FWD4, RELAY4, HAIR4 = "10.22.22.1", "192.0.2.32", "192.0.2.1", "192.168.1.1"
PUB6, BACK6 = "2001:db8::1", "fd00:22::1"
FWD6, RELAY6, HAIR6 = "2001:db8::32", "2001:db8::2", "fd00:1::1"
CLI4, CLI4B, LAN4 = "198.51.100.10", "198.51.100.77", "192.168.1.50"
CLI6, LAN6 = "2001:db8:100::10", "fd00:1::50"
ROUTER4, ROUTER6 = "100.64.0.9", "2001:db8:ffff::9"

PUBLIC, INSIDE, LAN = 0, 1, 2

# TCP flags
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# settings variant bits (fz_settings)
V_TTL_DEC, V_TTL_RESTORE = 0x01, 0x02
V_MSS_FIXED, V_MSS_MTU, V_MSS_BOTH = 0x04, 0x08, 0x0C
V_NO_PICKUP, V_TINY_PORTS, V_NO_HAIRPIN, V_NO_DEFAULT = 0x10, 0x20, 0x40, 0x80


# --- checksums and headers ----------------------------------------------------

def csum(data, start=0):
    """One's complement checksum of data (plus a starting sum)."""
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def addr(a):
    return ipaddress.ip_address(a).packed


def pseudo(src, dst, proto, length):
    """Sum of the pseudo header, unfolded."""
    s, d = addr(src), addr(dst)
    if len(s) == 4:
        ph = s + d + struct.pack("!BBH", 0, proto, length)
    else:
        ph = s + d + struct.pack("!IxxxB", length, proto)
    return sum(struct.unpack("!%dH" % (len(ph) // 2), ph))


def is6(a):
    return ":" in a


def tcp_opts(mss=None, sack=False, ts=None, wscale=None):
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if sack:
        o += b"\x04\x02"
    if ts is not None:
        o += b"\x01\x01" + struct.pack("!BBII", 8, 10, ts, 0)
    if wscale is not None:
        o += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    while len(o) % 4:
        o += b"\x01"
    return o


def tcp(src, dst, sport, dport, flags, seq=1000, ack=0, payload=b"",
        opts=b"", win=64240, partial=False):
    """A TCP segment; partial=True leaves the NEEDS_CSUM pseudo header sum."""
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags,
                      win, 0, 0) + opts
    seg = hdr + payload
    ps = pseudo(src, dst, 6, len(seg))
    c = (~csum(b"", ps) & 0xFFFF) if partial else csum(seg, ps)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload=b"", partial=False, zero=False):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ps = pseudo(src, dst, 17, len(seg))
    if zero:
        c = 0
    elif partial:
        c = ~csum(b"", ps) & 0xFFFF
    else:
        c = csum(seg, ps) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp4(typ, code, rest, body):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def icmp6(src, dst, typ, code, rest, body):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    c = csum(m, pseudo(src, dst, 58, len(m)))
    return m[:2] + struct.pack("!H", c) + m[4:]


def ip4(src, dst, proto, payload, ttl=64, ident=0x1234, df=True, mf=False,
        fragoff=0, options=b""):
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (fragoff // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload),
                    ident, flags, ttl, proto, 0, addr(src), addr(dst)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, hlim=64, ext=b""):
    """ext: already built extension headers; nh is then the first one's type."""
    h = struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(payload), nh,
                    hlim, addr(src), addr(dst))
    return h + ext + payload


def ip(src, dst, proto, payload, **kw):
    if is6(src):
        kw.pop("df", None)
        kw.pop("ident", None)
        if "ttl" in kw:
            kw["hlim"] = kw.pop("ttl")
        return ip6(src, dst, proto, payload, **kw)
    return ip4(src, dst, proto, payload, **kw)


def tcp_pkt(src, dst, sport, dport, flags, **kw):
    ipkw = {k: kw.pop(k) for k in ("ttl", "options") if k in kw}
    return ip(src, dst, 6, tcp(src, dst, sport, dport, flags, **kw), **ipkw)


def udp_pkt(src, dst, sport, dport, payload=b"", ttl=64, **kw):
    return ip(src, dst, 17, udp(src, dst, sport, dport, payload, **kw), ttl=ttl)


def echo(src, dst, ident, seq, reply=False, payload=b"abcdefgh" * 7):
    rest = struct.pack("!HH", ident, seq)
    if is6(src):
        return ip6(src, dst, 58,
                   icmp6(src, dst, 129 if reply else 128, 0, rest, payload))
    return ip4(src, dst, 1, icmp4(0 if reply else 8, 0, rest, payload))


def icmp_error(src, dst, quoted, kind="unreach", mtu=1280, limit=None):
    """An ICMP error from src to dst about the packet quoted."""
    if limit is not None:
        quoted = quoted[:limit]
    if is6(src):
        t = {"unreach": (1, 4), "toobig": (2, 0), "timex": (3, 0),
             "param": (4, 0)}[kind]
        rest = struct.pack("!I", mtu if kind == "toobig" else 0)
        return ip6(src, dst, 58, icmp6(src, dst, t[0], t[1], rest,
                                       quoted[:1280 - 48]))
    t = {"unreach": (3, 3), "toobig": (3, 4), "timex": (11, 0),
         "param": (12, 0), "quench": (4, 0)}[kind]
    rest = struct.pack("!HH", 0, mtu if kind == "toobig" else 0)
    return ip4(src, dst, 1, icmp4(t[0], t[1], rest, quoted[:576 - 28]),
               df=False)


def frags4(src, dst, proto, l4, size, ident=0x4242, ttl=64):
    """Split an L4 datagram into IPv4 fragments of about size bytes."""
    out, off = [], 0
    size -= size % 8
    while off < len(l4):
        chunk = l4[off:off + size]
        last = off + size >= len(l4)
        out.append(ip4(src, dst, proto, chunk, ident=ident, df=False,
                       mf=not last, fragoff=off, ttl=ttl))
        off += size
    return out


def frags6(src, dst, proto, l4, size, ident=0x42424242, ttl=64):
    out, off = [], 0
    size -= size % 8
    while off < len(l4):
        chunk = l4[off:off + size]
        last = off + size >= len(l4)
        fh = struct.pack("!BBHI", proto, 0, off | (0 if last else 1), ident)
        out.append(ip6(src, dst, 44, chunk, ext=fh, hlim=ttl))
        off += size
    return out


def hbh6(nh):
    """A hop-by-hop options header (PadN only) followed by nh."""
    return struct.pack("!BB", nh, 0) + b"\x01\x04\0\0\0\0"


# --- input formats --------------------------------------------------------------

def packet_input(pkt, side=PUBLIC, variant=0, vnet=0, cap=0, router=False,
                 ans_flags=0, err_kind=0, slack=0, reload=False,
                 csum_start=0, csum_off=0, gso_size=1400, gso_type=0):
    """fuzz_packet.c: 11-byte header + packet."""
    b0 = side | (vnet << 2) | (cap << 5) | (0x80 if router else 0)
    b3 = err_kind | (slack << 3) | (0x80 if reload else 0)
    return struct.pack("!BBBBHHHB", b0, variant, ans_flags, b3, csum_start,
                       csum_off, gso_size, gso_type) + pkt


class Seq:
    """fuzz_sequence.c: variant byte + records."""

    def __init__(self, variant=0):
        self.data = bytes([variant])

    def add(self, pkt, side=PUBLIC, step=1, answer=None, ans_flags=0,
            sweep=False, icmp_err=False, needs_csum=False):
        """answer: None, or the side a mirrored answer comes from."""
        r0 = side
        if answer is not None:
            r0 |= 0x04 | (answer << 3)
        r0 |= (0x20 if sweep else 0) | (0x40 if icmp_err else 0)
        r0 |= 0x80 if needs_csum else 0
        self.data += struct.pack("!BBBH", r0, step, ans_flags, len(pkt)) + pkt
        return self


# time steps (fs_step): ms < 64, 100 ms units from 64, 10 s from 128, 5 min from 192
def ms(n): return n
def sec10(n): return 128 + n
def min5(n): return 192 + n


# --- the corpora ----------------------------------------------------------------

HTTP_REQ = (b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
            b"User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n")
HTTP_RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n" + b"x" * 900


def packet_corpus():
    c = {}
    for fam, cli, pub, back, fwd, lan in (
            ("4", CLI4, PUB4, BACK4, FWD4, LAN4),
            ("6", CLI6, PUB6, BACK6, FWD6, LAN6)):
        syn = tcp_pkt(cli, pub, 40000, 80, SYN,
                      opts=tcp_opts(1460, True, 1, 7))
        c[f"tcp{fam}-syn-keep"] = packet_input(syn)
        c[f"tcp{fam}-syn-keep-mss"] = packet_input(syn, variant=V_MSS_FIXED,
                                                   ans_flags=SYN | ACK)
        c[f"tcp{fam}-syn-keep-mtu"] = packet_input(syn, variant=V_MSS_MTU)
        c[f"tcp{fam}-syn-fullnat"] = packet_input(
            tcp_pkt(cli, pub, 40001, 81, SYN, opts=tcp_opts(1460)),
            ans_flags=SYN | ACK)
        c[f"tcp{fam}-syn-fullnat-tinyports"] = packet_input(
            tcp_pkt(cli, pub, 40001, 81, SYN), variant=V_TINY_PORTS)
        c[f"tcp{fam}-ssh-excluded"] = packet_input(
            tcp_pkt(cli, pub, 40002, 22, SYN))
        c[f"tcp{fam}-ack-pickup"] = packet_input(
            tcp_pkt(cli, pub, 40003, 443, ACK | PSH, ack=5, payload=b"y" * 64))
        c[f"tcp{fam}-ack-nopickup"] = packet_input(
            tcp_pkt(cli, pub, 40003, 443, ACK, ack=5), variant=V_NO_PICKUP)
        c[f"tcp{fam}-rst"] = packet_input(tcp_pkt(cli, pub, 40004, 80, RST))
        c[f"tcp{fam}-synack-inside"] = packet_input(
            tcp_pkt(back, cli, 80, 40000, SYN | ACK, ack=1001), side=INSIDE)
        c[f"tcp{fam}-syn-lan-hairpin"] = packet_input(
            tcp_pkt(lan, pub, 40005, 81, SYN), side=LAN, ans_flags=SYN | ACK)
        c[f"tcp{fam}-syn-lan-nohairpin"] = packet_input(
            tcp_pkt(lan, pub, 40005, 80, SYN), side=LAN, variant=V_NO_HAIRPIN)
        c[f"tcp{fam}-syn-reload"] = packet_input(syn, reload=True)
        c[f"tcp{fam}-data-keep"] = packet_input(
            tcp_pkt(cli, pub, 40000, 80, ACK | PSH, ack=7, payload=HTTP_REQ),
            ans_flags=ACK)
        # TTL / hop limit
        c[f"tcp{fam}-syn-ttl1-decrement"] = packet_input(
            tcp_pkt(cli, pub, 40006, 80, SYN, ttl=1), variant=V_TTL_DEC)
        c[f"tcp{fam}-syn-ttl1-decrement-exactcap"] = packet_input(
            tcp_pkt(cli, pub, 40006, 80, SYN, ttl=1), variant=V_TTL_DEC, cap=1)
        c[f"tcp{fam}-syn-ttl-restore"] = packet_input(
            tcp_pkt(cli, pub, 40007, 80, SYN, ttl=63), variant=V_TTL_RESTORE)
        # virtio-net states
        part = tcp_pkt(cli, pub, 40008, 80, ACK | PSH, ack=9,
                       payload=b"z" * 3000, partial=True)
        hl = 20 if fam == "4" else 40
        c[f"tcp{fam}-needs-csum"] = packet_input(part, vnet=1)
        c[f"tcp{fam}-gso"] = packet_input(part, vnet=3, gso_size=1448)
        c[f"tcp{fam}-needs-csum-fuzzed"] = packet_input(
            part, vnet=2, csum_start=hl, csum_off=16)
        c[f"tcp{fam}-needs-csum-bad"] = packet_input(
            part, vnet=2, csum_start=hl + 3000, csum_off=16)
        c[f"tcp{fam}-vnet-raw"] = packet_input(
            part, vnet=5, csum_start=hl, csum_off=16, gso_type=0x41)
        c[f"tcp{fam}-data-valid"] = packet_input(syn, vnet=4)
        # UDP
        c[f"udp{fam}-keep"] = packet_input(
            udp_pkt(cli, pub, 41000, 53, b"\x12\x34" + b"q" * 30))
        c[f"udp{fam}-needs-csum"] = packet_input(
            udp_pkt(cli, pub, 41001, 4433, b"q" * 100, partial=True), vnet=1)
        c[f"udp{fam}-fullnat"] = packet_input(
            udp_pkt(cli, pub, 41002, 81, b"hello"))
        # ICMP echo
        c[f"icmp{fam}-echo"] = packet_input(echo(cli, pub, 0x77, 1))
        c[f"icmp{fam}-echo-reply-inside"] = packet_input(
            echo(back, cli, 0x77, 1, reply=True), side=INSIDE)
        # ICMP errors quoting (absent) flows, and about our own answer
        c[f"icmp{fam}-err-unreach-inside"] = packet_input(
            icmp_error(back, cli, tcp_pkt(cli, back, 40000, 80, SYN)),
            side=INSIDE)
        c[f"icmp{fam}-err-toobig-router"] = packet_input(
            icmp_error(ROUTER6 if fam == "6" else ROUTER4, cli,
                       tcp_pkt(cli, back, 40000, 80, ACK, payload=b"p" * 1300),
                       kind="toobig"), side=INSIDE)
        c[f"icmp{fam}-err-short-quote"] = packet_input(
            icmp_error(back, cli, udp_pkt(cli, back, 41000, 53, b"q" * 40),
                       kind="timex", limit=(28 if fam == "4" else 48)),
            side=INSIDE)
        c[f"icmp{fam}-err-nested"] = packet_input(
            icmp_error(back, cli, icmp_error(cli, back, echo(back, cli, 1, 1))),
            side=INSIDE)
        c[f"tcp{fam}-syn-then-errors"] = packet_input(
            syn, err_kind=1, router=True)
        c[f"udp{fam}-then-short-error"] = packet_input(
            udp_pkt(cli, pub, 41003, 9999, b"w" * 20), err_kind=4)
    # IPv4 specifics
    c["tcp4-ip-options"] = packet_input(
        tcp_pkt(CLI4, PUB4, 40010, 80, SYN, options=b"\x94\x04\0\0"))
    c["udp4-zero-csum"] = packet_input(
        udp_pkt(CLI4, PUB4, 41010, 5005, b"r" * 17, zero=True))
    c["udp4-range-map"] = packet_input(udp_pkt(CLI4, PUB4, 41011, 5009, b"x"))
    c["icmp4-echo-fullnat"] = packet_input(echo(CLI4, PUB4B, 0x99, 3))
    c["icmp4-err-quench"] = packet_input(
        icmp_error(BACK4, CLI4, tcp_pkt(CLI4, BACK4, 40000, 80, ACK),
                   kind="quench"), side=INSIDE)
    udp_l4 = udp(CLI4, PUB4, 41020, 5001, b"F" * 2000)
    fr = frags4(CLI4, PUB4, 17, udp_l4, 800)
    c["udp4-frag-first"] = packet_input(fr[0], ans_flags=0)
    c["udp4-frag-middle"] = packet_input(fr[1])
    c["udp4-frag-last"] = packet_input(fr[2])
    c["ip4-truncated"] = packet_input(tcp_pkt(CLI4, PUB4, 1, 80, SYN)[:30])
    c["ip4-bad-ihl"] = packet_input(b"\x44" + tcp_pkt(CLI4, PUB4, 1, 80, SYN)[1:])
    c["ip4-gre"] = packet_input(ip4(CLI4, PUB4, 47, b"\0" * 24))
    # IPv6 specifics
    c["tcp6-hbh"] = packet_input(ip6(CLI6, PUB6, 0, tcp(
        CLI6, PUB6, 40011, 80, SYN), ext=hbh6(6)))
    udp6_l4 = udp(CLI6, PUB6, 41021, 5001, b"G" * 2000)
    fr6 = frags6(CLI6, PUB6, 17, udp6_l4, 800)
    c["udp6-frag-first"] = packet_input(fr6[0])
    c["udp6-frag-last"] = packet_input(fr6[2])
    c["ip6-truncated"] = packet_input(echo(CLI6, PUB6, 1, 1)[:44])
    c["ip6-icmp-nd"] = packet_input(ip6(CLI6, PUB6, 58, icmp6(
        CLI6, PUB6, 135, 0, b"\0" * 4, addr(PUB6))))
    c["empty"] = packet_input(b"")
    return c


def tcp_conv(s, cli, pub, back, cport, pport, bport, step=ms(5),
             needs_csum=False, data=True, close=True):
    """Client/backend conversation for a keep-source flow (explicit replies)."""
    s.add(tcp_pkt(cli, pub, cport, pport, SYN, seq=100,
                  opts=tcp_opts(1460, True, 1, 7), partial=needs_csum),
          step=step, needs_csum=needs_csum)
    s.add(tcp_pkt(back, cli, bport, cport, SYN | ACK, seq=900, ack=101,
                  opts=tcp_opts(1400), partial=needs_csum), side=INSIDE,
          step=step, needs_csum=needs_csum)
    s.add(tcp_pkt(cli, pub, cport, pport, ACK, seq=101, ack=901,
                  partial=needs_csum), step=step, needs_csum=needs_csum)
    if data:
        s.add(tcp_pkt(cli, pub, cport, pport, ACK | PSH, seq=101, ack=901,
                      payload=HTTP_REQ, partial=needs_csum), step=step,
              needs_csum=needs_csum)
        s.add(tcp_pkt(back, cli, bport, cport, ACK | PSH, seq=901,
                      ack=101 + len(HTTP_REQ), payload=HTTP_RESP,
                      partial=needs_csum), side=INSIDE, step=step,
              needs_csum=needs_csum)
    if close:
        s.add(tcp_pkt(cli, pub, cport, pport, FIN | ACK, seq=500, ack=2000),
              step=step)
        s.add(tcp_pkt(back, cli, bport, cport, FIN | ACK, seq=2000, ack=501),
              side=INSIDE, step=step)
        s.add(tcp_pkt(cli, pub, cport, pport, ACK, seq=501, ack=2001),
              step=step)
    return s


def sequence_corpus():
    c = {}
    for fam, cli, pub, back, fwd, lan, router in (
            ("4", CLI4, PUB4, BACK4, FWD4, LAN4, ROUTER4),
            ("6", CLI6, PUB6, BACK6, FWD6, LAN6, ROUTER6)):
        # udp 5000-5009 maps to 6000-6009 on the IPv4 backend only
        def rmap(port, fam=fam):
            return port + 1000 if fam == "4" and 5000 <= port <= 5009 else port
        s = tcp_conv(Seq(), cli, pub, back, 40000, 80, 80)
        s.add(tcp_pkt(cli, pub, 40000, 80, SYN, seq=7000), step=sec10(30),
              sweep=True)           # TIME_WAIT reopened by a new SYN
        c[f"tcp{fam}-keep-conversation"] = s.data
        c[f"tcp{fam}-keep-needs-csum"] = tcp_conv(
            Seq(V_MSS_FIXED), cli, pub, back, 40001, 80, 80,
            needs_csum=True).data
        s = tcp_conv(Seq(), cli, pub, back, 40002, 80, 80, close=False)
        s.add(tcp_pkt(cli, pub, 40002, 80, ACK, seq=9, ack=9), step=min5(30),
              sweep=True)           # established, idle 2.5 h: expired
        c[f"tcp{fam}-keep-idle-expiry"] = s.data
        # port forward: full NAT; the answer is the mirror of what left
        s = Seq()
        s.add(tcp_pkt(cli, pub, 40003, 81, SYN, opts=tcp_opts(1460)),
              answer=PUBLIC, ans_flags=SYN | ACK)
        s.add(tcp_pkt(cli, pub, 40003, 81, ACK, seq=1001, ack=1),
              answer=PUBLIC, ans_flags=ACK)
        s.add(tcp_pkt(cli, pub, 40003, 81, ACK | PSH, payload=HTTP_REQ),
              answer=INSIDE, ans_flags=ACK | PSH, icmp_err=True)
        s.add(tcp_pkt(cli, pub, 40003, 81, RST), answer=PUBLIC,
              ans_flags=RST, sweep=True)
        s.add(tcp_pkt(cli, pub, 40003, 81, SYN), step=sec10(30),
              answer=PUBLIC, ans_flags=SYN | ACK)
        c[f"tcp{fam}-fullnat"] = s.data
        # no port overloading: two ports in the pool, four clients
        s = Seq(V_TINY_PORTS)
        for i in range(4):
            s.add(tcp_pkt(cli, pub, 40100 + i, 81, SYN), answer=PUBLIC,
                  ans_flags=SYN | ACK)
        s.add(tcp_pkt(cli, pub, 40100, 81, SYN), step=min5(2), sweep=True)
        c[f"tcp{fam}-fullnat-ports"] = s.data
        # hairpin: LAN client to the public address
        s = Seq()
        s.add(tcp_pkt(lan, pub, 40200, 81, SYN), side=LAN, answer=PUBLIC,
              ans_flags=SYN | ACK)
        s.add(tcp_pkt(lan, pub, 40201, 80, SYN), side=LAN, answer=INSIDE,
              ans_flags=SYN | ACK)
        s.add(tcp_pkt(lan, pub, 40201, 80, ACK, ack=1), side=LAN,
              answer=INSIDE, ans_flags=ACK)
        c[f"tcp{fam}-hairpin"] = s.data
        # mid-stream pickup, then the backend answers
        s = Seq()
        s.add(tcp_pkt(cli, pub, 40300, 80, ACK | PSH, payload=b"k" * 64),
              answer=INSIDE, ans_flags=ACK)
        s.add(tcp_pkt(cli, pub, 40300, 80, FIN | ACK), answer=INSIDE,
              ans_flags=FIN | ACK)
        c[f"tcp{fam}-pickup"] = s.data
        # TTL: router mode answers TTL 1 with time exceeded
        s = Seq(V_TTL_DEC)
        s.add(tcp_pkt(cli, pub, 40400, 80, SYN, ttl=1))
        s.add(tcp_pkt(cli, pub, 40400, 80, SYN, ttl=2), answer=INSIDE,
              ans_flags=SYN | ACK)
        s.add(tcp_pkt(back, cli, 80, 40400, ACK, ttl=1), side=INSIDE)
        c[f"tcp{fam}-ttl"] = s.data
        # UDP: explicit reply, range map, expiry at 300 s
        s = Seq()
        s.add(udp_pkt(cli, pub, 41000, 53, b"\x12\x34query"))
        s.add(udp_pkt(back, cli, 53, 41000, b"\x12\x34answer"), side=INSIDE)
        s.add(udp_pkt(cli, pub, 41001, 5003, b"game"))
        s.add(udp_pkt(back, cli, rmap(5003), 41001, b"state"), side=INSIDE)
        s.add(udp_pkt(back, cli, 53, 41000, b"late"), side=INSIDE,
              step=sec10(31), sweep=True)
        s.add(udp_pkt(cli, pub, 41002, 81, b"fullnat"), answer=PUBLIC)
        c[f"udp{fam}-flows"] = s.data
        # ICMP echo, both ways
        s = Seq()
        s.add(echo(cli, pub, 0x501, 1))
        s.add(echo(back, cli, 0x501, 1, reply=True), side=INSIDE)
        s.add(echo(cli, pub, 0x501, 2), step=sec10(7), sweep=True)
        s.add(echo(back, cli, 0x501, 2, reply=True), side=INSIDE)
        c[f"icmp{fam}-echo"] = s.data
        # ICMP errors quoting live flows, from the target and a router
        s = Seq()
        syn = tcp_pkt(cli, pub, 40500, 80, SYN)
        s.add(syn)
        seen = tcp_pkt(cli, back, 40500, 80, SYN)   # as the backend sees it
        s.add(icmp_error(back, cli, seen), side=INSIDE)
        s.add(icmp_error(router, cli, seen, kind="toobig"), side=INSIDE)
        s.add(icmp_error(router, cli, seen, kind="timex", limit=48), side=INSIDE)
        s.add(udp_pkt(cli, pub, 41500, 5000, b"u" * 100))
        s.add(icmp_error(back, cli, udp_pkt(cli, back, 41500, rmap(5000),
                                            b"u" * 100)), side=INSIDE)
        s.add(tcp_pkt(back, cli, 80, 40500, SYN | ACK, ack=1001), side=INSIDE)
        # the client's side reports about the answer as the client got it
        s.add(icmp_error(cli, pub, tcp_pkt(pub, cli, 80, 40500,
                                           SYN | ACK, ack=1001)), side=PUBLIC)
        s.add(tcp_pkt(cli, pub, 40501, 81, SYN), icmp_err=True, answer=INSIDE)
        c[f"icmp{fam}-errors"] = s.data
        # eviction: 8 flows max, unassured ones go first
        s = Seq()
        for i in range(6):
            s.add(udp_pkt(cli, pub, 42000 + i, 53, b"a"), answer=INSIDE)
        for i in range(6):
            s.add(udp_pkt(cli, pub, 42100 + i, 53, b"b"))
        for i in range(3):
            s.add(tcp_pkt(cli, pub, 42200 + i, 80, SYN))
        s.add(udp_pkt(cli, pub, 42300, 53, b"c"), step=min5(1), sweep=True)
        for i in range(4):
            s.add(udp_pkt(cli, pub, 42400 + i, 81, b"d"), answer=PUBLIC)
        c[f"table{fam}-eviction"] = s.data
    # fragments, out of order (max_frags 4, 3000 queued bytes)
    for fam, cli, pub, back, mk in (("4", CLI4, PUB4, BACK4, frags4),
                                    ("6", CLI6, PUB6, BACK6, frags6)):
        l4 = udp(cli, pub, 43000, 5002, b"F" * 2000)
        f = mk(cli, pub, 17, l4, 800)
        s = Seq()
        s.add(f[1]).add(f[2]).add(f[0])
        l4 = tcp(cli, pub, 43001, 80, SYN, payload=b"T" * 1200)
        g = mk(cli, pub, 6, l4, 512)
        s.add(g[0]).add(g[2]).add(g[1])
        big = mk(cli, pub, 17, udp(cli, pub, 43002, 5003, b"B" * 4000), 1000)
        for x in big[1:]:
            s.add(x)
        s.add(big[0], step=ms(10))
        s.add(f[2], step=sec10(4), sweep=True)     # after frag_timeout
        ident = 7
        for i in range(6):                          # more than max_frags
            s.add(mk(cli, pub, 17, udp(cli, pub, 43100 + i, 53, b"m" * 100),
                     64, ident + i)[1])
        c[f"frag{fam}-out-of-order"] = s.data
        # fragments of a reply from the backend
        s = Seq()
        s.add(udp_pkt(cli, pub, 43200, 5004, b"q"))
        r = mk(back, cli, 17, udp(back, cli, 6004 if fam == "4" else 5004,
                                  43200, b"R" * 1500), 600)
        s.add(r[2], side=INSIDE).add(r[0], side=INSIDE).add(r[1], side=INSIDE)
        c[f"frag{fam}-reply"] = s.data
        # router mode: a later fragment with TTL 1 waits for the first
        s = Seq(V_TTL_DEC)
        l4 = udp(cli, pub, 43300, 5005, b"T" * 1200)
        late = mk(cli, pub, 17, l4, 800, ident=0x77, ttl=1)
        first = mk(cli, pub, 17, l4, 800, ident=0x77, ttl=64)
        s.add(late[1]).add(first[0]).add(late[1])
        c[f"frag{fam}-ttl"] = s.data
    return c


def write(outdir, name, corpus):
    d = os.path.join(outdir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for k in sorted(corpus):
        with open(os.path.join(d, k), "wb") as f:
            f.write(corpus[k])
    return len(corpus)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    n = write(outdir, "packet", packet_corpus())
    m = write(outdir, "sequence", sequence_corpus())
    print(f"{outdir}: {n} packet inputs, {m} sequence inputs")


if __name__ == "__main__":
    main()
