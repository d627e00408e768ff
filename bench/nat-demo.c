/*
 * nat-demo.c - what the NAT engine does, packet by packet.
 *
 *   bench/nat-demo
 *
 * Builds a small relay in memory and pushes a TCP handshake, an HTTP
 * request and answer, a UDP exchange and a ping through nat_process() in
 * both directions, printing each packet before and after translation, then
 * the flow table and the counters. No TUN, no root: the engine only.
 *
 * Scenario (docs/engine.md; seeds 000 and 001 of the brief):
 *
 *   client 198.51.100.10 ──► relay, public 203.0.113.1
 *        :80 and everything else ──► backend 10.22.22.1 (source kept)
 *        :81 ──► 192.0.2.32:80, source = relay 192.0.2.1 (full NAT)
 *        tcp/22 excluded (the relay's own sshd)
 *
 * The demo checks itself: exit status 0 when every packet was translated
 * as expected (addresses, ports, MSS, checksums), 1 otherwise.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nat/nat.h"
#include "bench/benchpkt.h"

#define CLIENT BP_IP(198, 51, 100, 10)
#define PUBLIC BP_IP(203, 0, 113, 1)
#define BACKEND BP_IP(10, 22, 22, 1)
#define TARGET BP_IP(192, 0, 2, 32)
#define RELAY BP_IP(192, 0, 2, 1)

#define PORT_NAT (-1)		/* expected: a port from the full NAT range */
#define MTU 1420		/* a WireGuard-sized tunnel */

struct demo {
	struct nat *nat;
	uint64_t now;
	int step;
	int failures;
	uint8_t buf[2048];
};

/* "198.51.100.10" into a static buffer (eight rotating slots). */
static const char *
demo_ip(uint32_t a)
{
	static char s[8][16];
	static int i;

	i = (i + 1) & 7;
	snprintf(s[i], sizeof(s[i]), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
	    (a >> 8) & 0xff, a & 0xff);
	return s[i];
}

/* An endpoint as text: address:port, or address for ICMP. */
static const char *
demo_ep(const struct bp_view *v, bool src)
{
	static char s[4][32];
	static int i;
	uint32_t a = src ? v->src : v->dst;

	i = (i + 1) & 3;
	if (v->proto == 1)
		snprintf(s[i], sizeof(s[i]), "%s", demo_ip(a));
	else
		snprintf(s[i], sizeof(s[i]), "%s:%u", demo_ip(a),
		    src ? v->sport : v->dport);
	return s[i];
}

/* The TCP MSS option of a packet, 0 if none. */
static unsigned
demo_mss(const uint8_t *p, size_t len)
{
	size_t hl = (size_t)(p[0] & 0xf) * 4, o, end;

	if (p[9] != 6 || len < hl + 20)
		return 0;
	end = hl + (size_t)(p[hl + 12] >> 4) * 4;
	for (o = hl + 20; o < end && o < len;) {
		if (p[o] == 0)
			break;
		if (p[o] == 1) {
			o++;
			continue;
		}
		if (o + 1 >= len || p[o + 1] < 2)
			break;
		if (p[o] == 2 && p[o + 1] == 4 && o + 4 <= len)
			return bp_get16(p + o + 2);
		o += p[o + 1];
	}
	return 0;
}

/* A short name for what a packet is. */
static const char *
demo_what(const struct bp_view *v)
{
	static char s[32];

	if (v->proto == 17)
		return "UDP";
	if (v->proto == 1)
		return v->flags == 8 ? "ping" : v->flags == 0 ? "pong" : "ICMP";
	snprintf(s, sizeof(s), "TCP %s%s%s%s%s",
	    v->flags & BP_SYN ? "SYN " : "", v->flags & BP_FIN ? "FIN " : "",
	    v->flags & BP_RST ? "RST " : "", v->flags & BP_PSH ? "PSH " : "",
	    v->flags & BP_ACK ? "ACK " : "");
	s[strlen(s) - 1] = '\0';
	return s;
}

struct expect {
	enum nat_verdict verdict;
	uint32_t src, dst;
	int sport, dport;	/* PORT_NAT: any port of the NAT range */
	unsigned mss;		/* 0: not checked */
};

/*
 * Send one packet through the engine from a side, print the picture and
 * compare the result with what is expected. Returns the translated view.
 */
static struct bp_view
demo_send(struct demo *d, size_t len, enum nat_side side, const char *from,
    const char *to, const struct expect *e, const char *note)
{
	static const char *sides[] = { "public", "inside", "lan" };
	enum nat_drop_reason why = NAT_DROP_MAX;
	struct nat_pkt pkt = { d->buf, len, sizeof(d->buf), NULL };
	struct bp_view in, out;
	enum nat_verdict v;
	unsigned mss_in = demo_mss(d->buf, len), mss_out;
	bool bad = false;

	bp_read(d->buf, len, &in);
	d->now += 40;
	v = nat_process(d->nat, &pkt, side, d->now, &why);
	printf("[%d] %s, %zu bytes, arriving on the %s side\n", ++d->step,
	    demo_what(&in), len, sides[side]);
	printf("    %-7s %s → %s", from, demo_ep(&in, true), demo_ep(&in, false));
	memset(&out, 0, sizeof(out));
	switch (v) {
	case NAT_FORWARD:
		if (bp_read(d->buf, pkt.len, &out) < 0) {
			printf("  ⇒  unreadable packet\n");
			d->failures++;
			return out;
		}
		printf("  ⇒  %s → %s", demo_ep(&out, true), demo_ep(&out, false));
		if (to != NULL)
			printf("  (%s)", to);
		printf("\n");
		mss_out = demo_mss(d->buf, pkt.len);
		if (mss_in)
			printf("    MSS %u → %u (tunnel MTU %u)\n", mss_in,
			    mss_out, MTU);
		if (e->verdict != NAT_FORWARD || out.src != e->src ||
		    out.dst != e->dst || out.proto != in.proto)
			bad = true;
		if (e->sport == PORT_NAT ? out.sport < 61000 ||
		    out.sport > 65534 : out.sport != e->sport)
			bad = true;
		if (e->dport == PORT_NAT ? out.dport < 61000 ||
		    out.dport > 65534 : out.dport != e->dport)
			bad = true;
		if (e->mss && mss_out != e->mss)
			bad = true;
		if (!bp_csum_ok(d->buf, pkt.len)) {
			printf("    checksum wrong after translation\n");
			bad = true;
		}
		break;
	case NAT_NOT_OURS:
		printf("  ⇒  not ours: left to the relay host\n");
		bad = e->verdict != v;
		break;
	case NAT_DROP:
		printf("  ⇒  dropped (%s)\n", nat_drop_name(why));
		bad = e->verdict != v;
		break;
	default:
		printf("  ⇒  verdict %d\n", (int)v);
		bad = e->verdict != v;
		break;
	}
	if (note != NULL)
		printf("    %s\n", note);
	if (bad) {
		printf("    MISMATCH: expected verdict %d, %s:%d → %s:%d\n",
		    (int)e->verdict, demo_ip(e->src), e->sport,
		    demo_ip(e->dst), e->dport);
		d->failures++;
	}
	return out;
}

struct flowlist {
	struct nat_flow_info f[16];
	int n;
};

static int
demo_flow_cb(const struct nat_flow_info *f, void *arg)
{
	struct flowlist *l = arg;

	if (l->n < 16)
		l->f[l->n] = *f;
	l->n++;
	return 0;
}

/* An endpoint of a flow tuple as text (ICMP: the echo id on the source). */
static const char *
demo_fep(const struct nat_flow_info *f, const struct nat_addr *a,
    uint16_t port, bool src)
{
	static char s[4][48];
	static int i;
	uint32_t ip = bp_get32(a->b);

	i = (i + 1) & 3;
	if (f->proto == 1 && !src)
		snprintf(s[i], sizeof(s[i]), "%s", demo_ip(ip));
	else if (f->proto == 1)
		snprintf(s[i], sizeof(s[i]), "%s id %u", demo_ip(ip), port);
	else
		snprintf(s[i], sizeof(s[i]), "%s:%u", demo_ip(ip), port);
	return s[i];
}

/* Print the flow table, as `tunrelay flows` will, and check it. */
static void
demo_flows(struct demo *d)
{
	struct flowlist l;
	char orig[80], reply[80];
	int i;

	memset(&l, 0, sizeof(l));
	nat_flows(d->nat, d->now, demo_flow_cb, &l);
	printf("\nFlow table (%d flows), as `tunrelay flows` shows it:\n", l.n);
	printf("  %-5s %-12s %-47s %-47s %5s %5s %7s %4s\n", "proto", "state",
	    "original (client → public)", "reply (target → client/relay)",
	    "age", "idle", "expires", "rule");
	for (i = 0; i < l.n && i < 16; i++) {
		const struct nat_flow_info *f = &l.f[i];

		snprintf(orig, sizeof(orig), "%s → %s",
		    demo_fep(f, &f->orig_src, f->orig_sport, true),
		    demo_fep(f, &f->orig_dst, f->orig_dport, false));
		snprintf(reply, sizeof(reply), "%s → %s",
		    demo_fep(f, &f->reply_src, f->reply_sport, true),
		    demo_fep(f, &f->reply_dst, f->reply_dport, false));
		printf("  %-5s %-12s %-47s %-47s %4us %4us %6us %4" PRIu32
		    "%s\n", f->proto == 6 ? "tcp" : f->proto == 17 ? "udp" :
		    "icmp", f->state ? f->state : "-", orig, reply, f->age,
		    f->idle, f->expires, f->rule_id,
		    f->assured ? "  assured" : "");
	}
	if (l.n != 4) {
		printf("    MISMATCH: expected 4 flows\n");
		d->failures++;
	}
}

/* Print the counters that are not zero. */
static void
demo_stats(struct demo *d)
{
	static const char *sides[] = { "public", "inside", "lan" };
	struct nat_stats st;
	int i;

	nat_get_stats(d->nat, &st);
	printf("\nCounters, as `tunrelay stats` shows them:\n");
	for (i = 0; i < NAT_SIDE_MAX; i++)
		if (st.packets[i])
			printf("  packets from %-8s %8" PRIu64 "\n", sides[i],
			    st.packets[i]);
	printf("  forwarded             %8" PRIu64 "\n", st.forwarded);
	printf("  not ours              %8" PRIu64 "\n", st.not_ours);
	for (i = 0; i < NAT_DROP_MAX; i++)
		if (st.drops[i])
			printf("  dropped: %-12s %8" PRIu64 "\n",
			    nat_drop_name((enum nat_drop_reason)i), st.drops[i]);
	printf("  flows created         %8" PRIu64 "\n", st.flows_created);
	printf("  flows active          %8" PRIu64 " of %" PRIu64 "\n",
	    st.flows_active, st.max_flows);
	for (i = 1; i < NAT_TCP_STATE_MAX; i++)
		if (st.flows_by_state[i])
			printf("    tcp %-17s %8" PRIu64 "\n",
			    nat_tcp_state_name((enum nat_tcp_state)i),
			    st.flows_by_state[i]);
	printf("    udp                 %8" PRIu64 "\n", st.flows_udp);
	printf("    icmp                %8" PRIu64 "\n", st.flows_icmp);
	printf("  full NAT mappings     %8" PRIu64 "\n", st.mappings);
	printf("  MSS clamped           %8" PRIu64 "\n", st.mss_clamped);
	printf("  engine memory         %8zu bytes\n", nat_memory(d->nat));
	if (st.flows_active != 4 || st.mappings != 1 || st.drops[NAT_DROP_NO_FLOW] != 1) {
		printf("    MISMATCH: expected 4 flows, 1 mapping, 1 no_flow drop\n");
		d->failures++;
	}
}

/* The rules of the scenario. */
static size_t
demo_rules(struct nat_rule *r)
{
	memset(r, 0, 3 * sizeof(*r));
	r[0].family = 4;
	r[0].action = NAT_RULE_PASS;
	r[0].protos = NAT_P_TCP;
	r[0].port_lo = r[0].port_hi = 22;
	r[0].id = 1;

	r[1].family = 4;
	r[1].protos = NAT_P_TCP | NAT_P_UDP;
	r[1].port_lo = r[1].port_hi = 81;
	r[1].match_dst = true;
	bp_put32(r[1].dst.b, PUBLIC);
	bp_put32(r[1].to.b, TARGET);
	r[1].to_port = 80;
	r[1].source = NAT_SOURCE_RELAY;
	bp_put32(r[1].relay_src.b, RELAY);
	r[1].id = 2;

	r[2].family = 4;
	r[2].protos = NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP;
	r[2].port_lo = 0;
	r[2].port_hi = 65535;
	bp_put32(r[2].to.b, BACKEND);
	r[2].source = NAT_SOURCE_KEEP;
	r[2].id = 3;
	return 3;
}

int
main(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: www.example.com\r\n"
	    "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
	static char resp[1200];
	struct nat_rule rules[3];
	struct nat_settings s;
	char err[ERRLEN];
	struct demo d;
	struct bp_view o;
	uint16_t rp;
	size_t n;

	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	s.max_flows = 1024;
	s.hash_key[0] = 0x243f6a8885a308d3ULL;	/* fixed: the demo is repeatable */
	s.hash_key[1] = 0x13198a2e03707344ULL;
	s.port_seed = 0xa4093822299f31d0ULL;
	s.mtu = MTU;
	s.ttl_mode = NAT_TTL_KEEP;
	s.rules = rules;
	s.nrules = demo_rules(rules);
	d.nat = nat_create(&s, err);
	if (d.nat == NULL) {
		fprintf(stderr, "nat-demo: nat_create: %s\n", err);
		return 1;
	}
	d.now = 1000;
	memset(resp, 'x', sizeof(resp));
	memcpy(resp, "HTTP/1.1 200 OK\r\nContent-Length: 1162\r\n\r\n", 41);

	printf("tunrelay NAT engine demo: packets through nat_process(), no "
	    "TUN, no root.\n\n"
	    "  client %s ──► relay public %s\n"
	    "    tcp/22            excluded (the relay's own sshd)\n"
	    "    tcp,udp/81      ──► %s:80, source = relay %s (full NAT)\n"
	    "    everything else ──► backend %s, source kept (client IP "
	    "preserved)\n\n", demo_ip(CLIENT), demo_ip(PUBLIC),
	    demo_ip(TARGET), demo_ip(RELAY), demo_ip(BACKEND));

	/* TCP to :80, the backend sees the real client */
	n = bp_tcp4(d.buf, CLIENT, 40000, PUBLIC, 80, BP_SYN, 1000, 0, 1460,
	    NULL, 0);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", "backend sees the real "
	    "client", &(struct expect){ NAT_FORWARD, CLIENT, BACKEND, 40000, 80,
	    MTU - 40 }, NULL);
	n = bp_tcp4(d.buf, BACKEND, 80, CLIENT, 40000, BP_SYN | BP_ACK, 5000,
	    1001, 1460, NULL, 0);
	demo_send(&d, n, NAT_SIDE_INSIDE, "backend", "client sees the public "
	    "address", &(struct expect){ NAT_FORWARD, PUBLIC, CLIENT, 80, 40000,
	    MTU - 40 }, NULL);
	n = bp_tcp4(d.buf, CLIENT, 40000, PUBLIC, 80, BP_ACK, 1001, 5001, 0,
	    NULL, 0);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", NULL, &(struct expect){
	    NAT_FORWARD, CLIENT, BACKEND, 40000, 80, 0 }, NULL);
	n = bp_tcp4(d.buf, CLIENT, 40000, PUBLIC, 80, BP_PSH | BP_ACK, 1001,
	    5001, 0, req, sizeof(req) - 1);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", "HTTP request", &(struct
	    expect){ NAT_FORWARD, CLIENT, BACKEND, 40000, 80, 0 }, NULL);
	n = bp_tcp4(d.buf, BACKEND, 80, CLIENT, 40000, BP_PSH | BP_ACK, 5001,
	    1001 + sizeof(req) - 1, 0, resp, sizeof(resp));
	demo_send(&d, n, NAT_SIDE_INSIDE, "backend", "HTTP answer", &(struct
	    expect){ NAT_FORWARD, PUBLIC, CLIENT, 80, 40000, 0 }, NULL);

	/* UDP and ping take the default destination too */
	n = bp_udp4(d.buf, CLIENT, 40002, PUBLIC, 443, "QUIC-ish datagram", 17);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", "backend sees the real "
	    "client", &(struct expect){ NAT_FORWARD, CLIENT, BACKEND, 40002,
	    443, 0 }, NULL);
	n = bp_udp4(d.buf, BACKEND, 443, CLIENT, 40002, "datagram answer", 15);
	demo_send(&d, n, NAT_SIDE_INSIDE, "backend", NULL, &(struct expect){
	    NAT_FORWARD, PUBLIC, CLIENT, 443, 40002, 0 }, NULL);
	n = bp_echo4(d.buf, CLIENT, PUBLIC, 0x1234, 1, false);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", "backend answers the ping",
	    &(struct expect){ NAT_FORWARD, CLIENT, BACKEND, 0x1234, 0, 0 },
	    NULL);
	n = bp_echo4(d.buf, BACKEND, CLIENT, 0x1234, 1, true);
	demo_send(&d, n, NAT_SIDE_INSIDE, "backend", NULL, &(struct expect){
	    NAT_FORWARD, PUBLIC, CLIENT, 0x1234, 0, 0 }, NULL);

	/* :81, full NAT; the target's answers arrive on the public side */
	n = bp_tcp4(d.buf, CLIENT, 40001, PUBLIC, 81, BP_SYN, 7000, 0, 1460,
	    NULL, 0);
	o = demo_send(&d, n, NAT_SIDE_PUBLIC, "client", "target sees the relay",
	    &(struct expect){ NAT_FORWARD, RELAY, TARGET, PORT_NAT, 80,
	    MTU - 40 }, "full NAT: one relay port per client endpoint, "
	    "from 61000-65534");
	rp = o.sport;
	n = bp_tcp4(d.buf, TARGET, 80, RELAY, rp, BP_SYN | BP_ACK, 9000, 7001,
	    1460, NULL, 0);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "target", "client sees the public "
	    "address and port", &(struct expect){ NAT_FORWARD, PUBLIC, CLIENT,
	    81, 40001, MTU - 40 }, NULL);
	n = bp_tcp4(d.buf, CLIENT, 40001, PUBLIC, 81, BP_ACK, 7001, 9001, 0,
	    NULL, 0);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", NULL, &(struct expect){
	    NAT_FORWARD, RELAY, TARGET, rp, 80, 0 }, NULL);

	/* what the engine leaves alone or refuses */
	n = bp_tcp4(d.buf, CLIENT, 50000, PUBLIC, 22, BP_SYN, 1, 0, 1460,
	    NULL, 0);
	demo_send(&d, n, NAT_SIDE_PUBLIC, "client", NULL, &(struct expect){
	    NAT_NOT_OURS, 0, 0, 0, 0, 0 }, "tcp/22 is excluded: the relay's "
	    "own sshd answers");
	n = bp_tcp4(d.buf, BACKEND, 80, CLIENT, 40999, BP_ACK, 1, 1, 0,
	    NULL, 0);
	demo_send(&d, n, NAT_SIDE_INSIDE, "backend", NULL, &(struct expect){
	    NAT_DROP, 0, 0, 0, 0, 0 }, "the inside never opens flows: an "
	    "unsolicited packet is dropped");

	d.now += 3000;
	demo_flows(&d);
	demo_stats(&d);
	nat_destroy(d.nat);
	if (d.failures) {
		printf("\nnat-demo: %d MISMATCHES\n", d.failures);
		return 1;
	}
	printf("\nnat-demo: all %d packets translated as expected\n", d.step);
	return 0;
}
