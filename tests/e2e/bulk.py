#!/usr/bin/env python3
"""Bulk transfers for the stress and restart tests, each checked byte for
byte. The content of a connection is a pattern seeded by the client's port
(the relay keeps the client's address and port, so both ends know it): no
hash has to travel, a lost, duplicated or foreign segment shows as a
mismatch at its offset.

  serve ADDR DLPORT ULPORT SIZE [RATE]
                                 on DLPORT the server talks first: SIZE
                                 bytes (RATE MB/s at most), then EOF; on
                                 ULPORT it reads to EOF, checks, answers
                                 "ok N" or "bad at OFFSET of N"
  run HOST DLPORT ULPORT SIZE COUNT PAR LIMIT
                                 COUNT downloads and COUNT uploads, PAR at
                                 a time, each with LIMIT seconds; one line
                                 per failed transfer, then a summary
  get HOST PORT SIZE LIMIT [READY] / put HOST PORT SIZE LIMIT [READY] [RATE]
                                 one download / upload (READY is touched
                                 once connected; RATE caps MB/s)
  udp-serve-stream ADDR PORT     on "start COUNT PPS" from a peer, send it
                                 COUNT numbered datagrams at PPS a second
                                 (the server talks first and most)
  udp-get-stream HOST PORT COUNT PPS READY
                                 ask for such a stream; READY touched at
                                 the first datagram; "received M of COUNT",
                                 exit 1 if any is missing (2 s after the
                                 last was due)
  udp-stream HOST PORT COUNT PPS READY
                                 COUNT numbered datagrams at PPS a second
                                 to a UDP echo server, READY touched at the
                                 first echo; "echoed M of COUNT" and the
                                 first missing numbers; exit 1 if any is
                                 missing (2 s after the last is sent)

With BULK_SEED=N in the environment of both ends, every connection uses
the pattern of port N instead: behind full NAT the server sees the relay's
port, not the client's.

Every operation is bounded in time."""
import hashlib
import os
import socket
import sys
import threading
import time

BLOCK = 65536
TUPLES = set()      # (client port, server port) of every connection made


def pattern(port, way):
    """Two copies of the 64 KiB block of a connection (so that any window
    of up to BLOCK bytes is one slice)."""
    if os.environ.get("BULK_SEED"):
        port = int(os.environ["BULK_SEED"])
    seed = ("tunrelay %s %d " % (way, port)).encode()
    blk = b"".join(hashlib.sha256(seed + b"%d" % i).digest()
                   for i in range(BLOCK // 32))
    return blk + blk


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


class Check:
    """Compares a stream, chunk by chunk, with its pattern."""

    def __init__(self, port, way):
        self.dbl = pattern(port, way)
        self.n = 0
        self.bad = None

    def feed(self, chunk):
        o = self.n % BLOCK
        while chunk and self.bad is None:
            k = min(len(chunk), BLOCK)
            if chunk[:k] != self.dbl[o:o + k]:
                self.bad = self.n
            self.n += k
            chunk = chunk[k:]
            o = self.n % BLOCK


def recv_all(c, check, deadline):
    """Read to EOF into check before deadline (socket.timeout after)."""
    buf = bytearray(BLOCK)
    mv = memoryview(buf)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        c.settimeout(left)
        k = c.recv_into(buf)
        if k == 0:
            return
        check.feed(bytes(mv[:k]))


def send_pattern(c, dbl, size, deadline, rate=0.0):
    """Send size bytes of a pattern before deadline, rate MB/s at most."""
    sent = 0
    t0 = time.monotonic()
    mv = memoryview(dbl)
    while sent < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        c.settimeout(left)
        k = min(BLOCK, size - sent)
        c.sendall(mv[:k])
        sent += k
        if rate:
            ahead = sent / (rate * 1e6) - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(min(ahead, max(0, left)))


def serve_dl(conn, peer, size, rate):
    """Talk first: size bytes of the client's download pattern (rate MB/s
    at most)."""
    try:
        send_pattern(conn, pattern(peer[1], "dl"), size,
                     time.monotonic() + 300, rate)
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(30)
        conn.recv(1)        # the client's EOF: then close, never RST
    except OSError:
        pass
    finally:
        conn.close()


def serve_ul(conn, peer, size, _rate):
    """Read the client's upload to EOF; answer how it compared."""
    try:
        chk = Check(peer[1], "ul")
        recv_all(conn, chk, time.monotonic() + 300)
        if chk.bad is not None:
            conn.sendall(b"bad at %d of %d\n" % (chk.bad, chk.n))
        else:
            conn.sendall(b"ok %d\n" % chk.n)
    except OSError:
        pass
    finally:
        conn.close()


def listener(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(128)
    return s


def accept_loop(s, fn, size, rate):
    while True:
        conn, peer = s.accept()
        threading.Thread(target=fn, args=(conn, peer, size, rate),
                         daemon=True).start()


def cmd_serve(addr, dlport, ulport, size, rate="0"):
    """Serve downloads on dlport and uploads on ulport (until killed)."""
    dl = listener(addr, dlport)
    ul = listener(addr, ulport)
    threading.Thread(target=accept_loop,
                     args=(ul, serve_ul, int(size), float(rate)),
                     daemon=True).start()
    accept_loop(dl, serve_dl, int(size), float(rate))


def connect(host, port, deadline, ready=None):
    c = socket.socket(family(host), socket.SOCK_STREAM)
    c.settimeout(max(0.1, min(10, deadline - time.monotonic())))
    c.connect((host, int(port)))
    TUPLES.add((c.getsockname()[1], int(port)))
    if ready:
        open(ready, "w").close()
    return c


def download(host, port, size, limit, ready=None):
    """One download; returns (status, detail)."""
    t0 = time.monotonic()
    deadline = t0 + limit
    c = chk = None
    try:
        c = connect(host, port, deadline, ready)
        chk = Check(c.getsockname()[1], "dl")
        recv_all(c, chk, deadline)
    except socket.timeout:
        return "stall", "download %s: %d of %d bytes in %.1f s" % (
            c.getsockname()[1] if chk else "-", chk.n if chk else 0, size,
            time.monotonic() - t0)
    except OSError as e:
        return "error", "download: %s" % e
    finally:
        if c:
            c.close()
    if chk.bad is not None:
        return "bad", "download port %d: content differs at %d" % (
            c.getsockname()[1], chk.bad)
    if chk.n != size:
        return "bad", "download: %d bytes, want %d" % (chk.n, size)
    return "ok", "download %d bytes in %.2f s" % (size, time.monotonic() - t0)


def upload(host, port, size, limit, ready=None, rate=0.0):
    """One upload; returns (status, detail)."""
    t0 = time.monotonic()
    deadline = t0 + limit
    c = None
    try:
        c = connect(host, port, deadline, ready)
        send_pattern(c, pattern(c.getsockname()[1], "ul"), size, deadline,
                     rate)
        c.shutdown(socket.SHUT_WR)
        c.settimeout(max(0.1, deadline - time.monotonic()))
        reply = c.makefile("rb").readline().decode().strip()
    except socket.timeout:
        return "stall", "upload %s: not done in %.1f s" % (
            c.getsockname()[1] if c else "-", time.monotonic() - t0)
    except OSError as e:
        return "error", "upload: %s" % e
    finally:
        if c:
            c.close()
    if reply != "ok %d" % size:
        return "bad", "upload: backend says %r, want 'ok %d'" % (reply, size)
    return "ok", "upload %d bytes in %.2f s" % (size, time.monotonic() - t0)


def cmd_udp_stream(host, port, count, pps, ready):
    """Numbered datagrams through the relay and back; report what is lost."""
    count, pps = int(count), float(pps)
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    s.settimeout(0.001)
    got = set()
    t0 = time.monotonic()
    i = 0
    end = None
    while end is None or time.monotonic() < end:
        now = time.monotonic()
        while i < count and now - t0 >= i / pps:
            s.send(b"%08d" % i + b"x" * 56)
            i += 1
        if i == count and end is None:
            end = now + 2
        try:
            data = s.recv(2048)
            if len(data) == 64 and data[:8].isdigit():
                if not got and ready:
                    open(ready, "w").close()
                got.add(int(data[:8]))
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            time.sleep(0.001)   # an ICMP error reported on the socket
        if len(got) == count:
            break
    missing = [n for n in range(count) if n not in got]
    print("echoed %d of %d%s" % (len(got), count,
          " (missing %s)" % ",".join(map(str, missing[:8])) if missing else ""))
    sys.exit(0 if not missing else 1)


def cmd_udp_serve_stream(addr, port):
    """Answer each "start COUNT PPS" with a paced numbered stream."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(2048)
        words = data.split()
        if len(words) != 3 or words[0] != b"start":
            continue
        count, pps = int(words[1]), float(words[2])
        t0 = time.monotonic()
        for i in range(count):
            delay = t0 + i / pps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                s.sendto(b"%08d" % i + b"y" * 56, peer)
            except OSError:
                pass


def cmd_udp_get_stream(host, port, count, pps, ready):
    """Ask for a stream of count datagrams; report what is missing."""
    count, pps = int(count), float(pps)
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(0.5)
    got = set()
    end = time.monotonic() + count / pps + 3
    start = b"start %d %g" % (count, pps)
    s.sendto(start, (host, int(port)))
    asked = time.monotonic()
    while time.monotonic() < end and len(got) < count:
        try:
            data = s.recv(2048)
        except socket.timeout:
            # the request (one datagram) may be lost: ask again until the
            # stream shows up (duplicates count once)
            if not got and time.monotonic() - asked >= 1:
                s.sendto(start, (host, int(port)))
                asked = time.monotonic()
                end = asked + count / pps + 3
            continue
        if len(data) == 64 and data[:8].isdigit():
            if not got and ready:
                open(ready, "w").close()
            got.add(int(data[:8]))
    missing = [n for n in range(count) if n not in got]
    print("received %d of %d%s" % (len(got), count,
          " (missing %s)" % ",".join(map(str, missing[:8])) if missing else ""))
    sys.exit(0 if not missing else 1)


def cmd_run(host, dlport, ulport, size, count, par, limit):
    """count downloads and count uploads, par at a time (alternating)."""
    size, count, par, limit = int(size), int(count), int(par), float(limit)
    jobs = []
    for i in range(count):
        jobs.append(("dl", lambda: download(host, dlport, size, limit)))
        jobs.append(("ul", lambda: upload(host, ulport, size, limit)))
    tally = {w: {"ok": 0, "stall": 0, "bad": 0, "error": 0}
             for w in ("dl", "ul")}
    lock = threading.Lock()
    slowest = [0.0]

    def worker():
        while True:
            with lock:
                if not jobs:
                    return
                way, fn = jobs.pop(0)
            t = time.monotonic()
            try:
                st, detail = fn()
            except Exception as e:  # a bug here must not pass as success
                st, detail = "error", repr(e)
            with lock:
                tally[way][st] += 1
                slowest[0] = max(slowest[0], time.monotonic() - t)
                if st != "ok":
                    print("# %s: %s" % (st, detail), flush=True)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(par)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for way in ("dl", "ul"):
        print("%s ok=%d stall=%d bad=%d error=%d" % (
            way, tally[way]["ok"], tally[way]["stall"], tally[way]["bad"],
            tally[way]["error"]))
    # a client port can come again for the same server port: the relay
    # then reopens the flow of that tuple, no new one
    print("tuples %d" % len(TUPLES))
    print("elapsed %.1f slowest %.1f" % (time.monotonic() - t0, slowest[0]))
    good = tally["dl"]["ok"] == count and tally["ul"]["ok"] == count
    sys.exit(0 if good else 1)


def cmd_get(host, port, size, limit, ready=None):
    st, detail = download(host, port, int(size), float(limit), ready)
    print("%s: %s" % (st, detail))
    sys.exit(0 if st == "ok" else 1)


def cmd_put(host, port, size, limit, ready=None, rate="0"):
    st, detail = upload(host, port, int(size), float(limit), ready,
                        float(rate))
    print("%s: %s" % (st, detail))
    sys.exit(0 if st == "ok" else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"serve": cmd_serve, "run": cmd_run, "get": cmd_get,
     "put": cmd_put, "udp-stream": cmd_udp_stream,
     "udp-serve-stream": cmd_udp_serve_stream,
     "udp-get-stream": cmd_udp_get_stream}[cmd](*args)
