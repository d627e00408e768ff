#!/usr/bin/env python3
"""Helpers of tests/e2e/ops.sh: send bursts of UDP flows, and read the
Prometheus endpoint (validate the text format, compare with `tunrelay
stats`). Every operation is bounded in time."""
import re
import socket
import sys
import time

SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})?'
    r' ([0-9]+(?:\.[0-9]+)?)$')

# `tunrelay stats` names and the Prometheus samples that must agree
PAIRS = [
    ("packets_public", 'tunrelay_packets_total{side="public"}'),
    ("packets_inside", 'tunrelay_packets_total{side="inside"}'),
    ("forwarded", "tunrelay_forwarded_total"),
    ("mss_clamped", "tunrelay_mss_clamped_total"),
    ("drop_no_flow", 'tunrelay_drops_total{reason="no_flow"}'),
    ("flows_active", "tunrelay_flows_active"),
    ("flows_max", "tunrelay_flows_max"),
    ("table_fill", "tunrelay_table_fill_ratio"),
    ("flows_created", "tunrelay_flows_created_total"),
    ("flows_evicted", "tunrelay_flows_evicted_total"),
    ("flows_tcp_time_wait", 'tunrelay_flows_tcp{state="time_wait"}'),
    ("flows_udp", "tunrelay_flows_udp"),
    ("tun_rx_packets", 'tunrelay_tun_packets_total{direction="rx"}'),
    ("tun_tx_bytes", 'tunrelay_tun_bytes_total{direction="tx"}'),
    ("flow_log_lines", "tunrelay_flow_log_lines_total"),
    ("flow_log_suppressed", "tunrelay_flow_log_suppressed_total"),
]


def udp_burst(host, port, n, gap):
    """n UDP datagrams from n source ports (n new flows), gap s apart."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        s.sendto(b"who\n", (host, int(port)))
        socks.append(s)
        if gap:
            time.sleep(gap)
    for s in socks:
        s.close()


def parse_prom(text):
    """{name{labels}: value}; raises on any line that breaks the format."""
    samples, helped, typed = {}, set(), {}
    current = None
    if not text.endswith("\n"):
        raise ValueError("no final newline")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
            if current in helped:
                raise ValueError("second HELP for " + current)
            helped.add(current)
            continue
        if line.startswith("# TYPE "):
            f = line.split()
            if f[2] != current or f[3] not in ("counter", "gauge"):
                raise ValueError("bad TYPE line: " + line)
            typed[current] = f[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("bad sample line: " + line)
        if m.group(1) != current or current not in typed:
            raise ValueError("sample before its HELP/TYPE: " + line)
        if typed[current] == "counter" and not current.endswith("_total"):
            raise ValueError("counter without _total: " + current)
        samples[m.group(1) + (m.group(2) or "")] = m.group(3)
    return samples


def parse_stats(text):
    out = {}
    for line in text.splitlines():
        k, v = line.split()
        out[k] = v
    return out


def compare(stats_path, prom_path):
    """Exit 0 when every paired value agrees and the counts match."""
    stats = parse_stats(open(stats_path).read())
    prom = parse_prom(open(prom_path).read())
    # per-rule counters and the build info are not in `stats` (status has
    # the rules): they do not count
    prom = {k: v for k, v in prom.items()
            if not k.startswith(("tunrelay_rule_", "tunrelay_build_info"))}
    bad = [(k, stats.get(k), prom.get(p)) for k, p in PAIRS
           if stats.get(k) is None or stats.get(k) != prom.get(p)]
    if len(stats) != len(prom):
        bad.append(("count", len(stats), len(prom)))
    for b in bad:
        print("mismatch: %s stats=%s prom=%s" % b)
    return 1 if bad else 0


def validate(prom_path):
    try:
        n = len(parse_prom(open(prom_path).read()))
    except ValueError as e:
        print("invalid: %s" % e)
        return 1
    print("samples=%d" % n)
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "udp-burst":
        udp_burst(sys.argv[2], sys.argv[3], int(sys.argv[4]),
                  float(sys.argv[5]))
        return 0
    if cmd == "validate":
        return validate(sys.argv[2])
    if cmd == "compare":
        return compare(sys.argv[2], sys.argv[3])
    if cmd == "get":
        return print(parse_stats(open(sys.argv[2]).read())[sys.argv[3]])
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main())
