/*
 * fuzz_common.h - scenario, packet helpers and output checks shared by the
 * NAT engine fuzz harnesses (fuzz_packet.c, fuzz_sequence.c).
 *
 * The scenario (addresses, rules) must match tests/fuzz/mkcorpus.py, which
 * builds the seed inputs for it.
 *
 * Output checks ("oracles") abort with a message, so libFuzzer reports them
 * like a crash. Build with -DFUZZ_NO_ORACLE to keep only the memory checks,
 * or -DFUZZ_NO_TTL_ORACLE to skip only the TTL checks.
 */
#ifndef TUNRELAY_FUZZ_COMMON_H
#define TUNRELAY_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/nat.h"
#include "tests/csum_full.h"

/*
 * Under FUZZ_REPLAY both harnesses are linked into tests/fuzz/replay, so each
 * exports its own entry point; otherwise LLVMFuzzerTestOneInput calls it.
 */
int fuzz_packet_one(const uint8_t *, size_t);
int fuzz_sequence_one(const uint8_t *, size_t);

#define FZ_OOPS(...) do {						\
	fprintf(stderr, "fuzz oracle: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

/* Scenario addresses (documentation and private ranges). */
#define FZ_A4(a, b, c, d) { { a, b, c, d } }
#define FZ_A6(x0, x1, x15) { { (x0) >> 8, (x0) & 0xff, (x1) >> 8, (x1) & 0xff, \
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x15 } }

static const struct nat_addr fz_pub4 = FZ_A4(203, 0, 113, 1);
static const struct nat_addr fz_pub4b = FZ_A4(203, 0, 113, 2);	/* ICMP full NAT */
static const struct nat_addr fz_back4 = FZ_A4(10, 22, 22, 1);
static const struct nat_addr fz_fwd4 = FZ_A4(192, 0, 2, 32);
static const struct nat_addr fz_relay4 = FZ_A4(192, 0, 2, 1);
static const struct nat_addr fz_hair4 = FZ_A4(192, 168, 1, 1);
static const struct nat_addr fz_pub6 = FZ_A6(0x2001, 0x0db8, 1);
static const struct nat_addr fz_back6 = FZ_A6(0xfd00, 0x0022, 1);
static const struct nat_addr fz_fwd6 = FZ_A6(0x2001, 0x0db8, 0x32);	/* 2001:db8::32 */
static const struct nat_addr fz_relay6 = FZ_A6(0x2001, 0x0db8, 0x02);	/* 2001:db8::2 */
static const struct nat_addr fz_hair6 = FZ_A6(0xfd00, 0x0001, 1);

/* Exclusions, two full-NAT forwards, a port-range map, keep-source defaults. */
static inline size_t
fz_rules(struct nat_rule *r, unsigned variant)
{
	size_t n = 0;

	memset(r, 0, 12 * sizeof(*r));
	/* tcp/22 stays with the relay (v4 and v6) */
	r[n].family = 4; r[n].action = NAT_RULE_PASS; r[n].protos = NAT_P_TCP;
	r[n].port_lo = r[n].port_hi = 22; r[n].id = 1; n++;
	r[n].family = 6; r[n].action = NAT_RULE_PASS; r[n].protos = NAT_P_TCP;
	r[n].port_lo = r[n].port_hi = 22; r[n].id = 2; n++;
	/* port forward: public :81 -> 192.0.2.32:80, source = relay */
	r[n].family = 4; r[n].protos = NAT_P_TCP | NAT_P_UDP;
	r[n].port_lo = r[n].port_hi = 81; r[n].match_dst = true;
	r[n].dst = fz_pub4; r[n].to = fz_fwd4; r[n].to_port = 80;
	r[n].source = NAT_SOURCE_RELAY; r[n].relay_src = fz_relay4; r[n].id = 3; n++;
	r[n].family = 6; r[n].protos = NAT_P_TCP | NAT_P_UDP;
	r[n].port_lo = r[n].port_hi = 81; r[n].match_dst = true;
	r[n].dst = fz_pub6; r[n].to = fz_fwd6; r[n].to_port = 80;
	r[n].source = NAT_SOURCE_RELAY; r[n].relay_src = fz_relay6; r[n].id = 4; n++;
	/* ICMP echo to the second public address: full NAT of echo ids */
	r[n].family = 4; r[n].protos = NAT_P_ICMP | NAT_P_UDP | NAT_P_TCP;
	r[n].port_lo = 0; r[n].port_hi = 65535; r[n].match_dst = true;
	r[n].dst = fz_pub4b; r[n].to = fz_fwd4;
	r[n].source = NAT_SOURCE_RELAY; r[n].relay_src = fz_relay4; r[n].id = 5; n++;
	/* a range mapped one to one: udp 5000-5009 -> backend 6000-6009 */
	r[n].family = 4; r[n].protos = NAT_P_UDP;
	r[n].port_lo = 5000; r[n].port_hi = 5009;
	r[n].to = fz_back4; r[n].to_port = 6000; r[n].id = 6; n++;
	if (variant & 0x80) {
		/* the "reload" rule set: no default destination */
		return n;
	}
	/* default destination, client address kept (keep-client-ip) */
	r[n].family = 4; r[n].protos = NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP;
	r[n].port_lo = 0; r[n].port_hi = 65535; r[n].to = fz_back4; r[n].id = 7;
	r[n].mtu = 576; n++;	/* through a tunnel: "too big" answers */
	r[n].family = 6; r[n].protos = NAT_P_TCP | NAT_P_UDP | NAT_P_ICMP;
	r[n].port_lo = 0; r[n].port_hi = 65535; r[n].to = fz_back6; r[n].id = 8;
	r[n].mtu = 1280; n++;
	return n;
}

/*
 * Settings from a variant byte:
 * bits 0-1 TTL mode, 2-3 MSS clamping, 4 no pickup, 5 tiny port range,
 * 6 no hairpin, 7 rule set without defaults.
 */
static inline void
fz_settings(struct nat_settings *s, struct nat_rule *rules, unsigned variant,
    uint32_t max_flows)
{
	static const uint8_t ttl[4] = { NAT_TTL_KEEP, NAT_TTL_DECREMENT,
	    NAT_TTL_RESTORE, NAT_TTL_DECREMENT };

	memset(s, 0, sizeof(*s));
	s->max_flows = max_flows;
	s->hash_key[0] = 0x0123456789abcdefULL;
	s->hash_key[1] = 0xfedcba9876543210ULL;
	s->port_seed = 0x5eed;
	s->ttl_mode = ttl[variant & 3];
	switch ((variant >> 2) & 3) {
	case 1: s->mss_clamp = 1360; break;
	case 2: s->mtu = 1280; break;
	case 3: s->mtu = 1500; s->mss_clamp = 1200; break;
	}
	s->tcp_no_pickup = (variant & 0x10) != 0;
	if (variant & 0x20) {
		s->nat_port_lo = 61000;
		s->nat_port_hi = 61001;
	}
	if ((variant & 0x21) == 0x21) {
		/* per-source limits: small, so that sequences reach them */
		s->src_max_flows = 3;
		s->src_rate = 2;
		s->src_burst = 2;
	}
	if (!(variant & 0x40)) {
		s->hairpin4 = s->hairpin6 = true;
		s->hairpin_src4 = fz_hair4;
		s->hairpin_src6 = fz_hair6;
	}
	s->rules = rules;
	s->nrules = fz_rules(rules, variant);
}

/* Settings of the engine under test (the harnesses run one at a time). */
static uint8_t fz_ttl_mode;
static uint16_t fz_port_lo, fz_port_hi;

/* Create the engine for a variant; a failure is a harness bug, so abort. */
static inline struct nat *
fz_create(unsigned variant, uint32_t max_flows, uint32_t max_frags,
    uint32_t max_frag_bytes)
{
	struct nat_rule rules[12];
	struct nat_settings s;
	char err[ERRLEN] = "";
	struct nat *n;

	fz_settings(&s, rules, variant, max_flows);
	s.max_frags = max_frags;
	s.max_frag_bytes = max_frag_bytes;
	fz_ttl_mode = s.ttl_mode;
	fz_port_lo = s.nat_port_lo ? s.nat_port_lo : 61000;
	fz_port_hi = s.nat_port_hi ? s.nat_port_hi : 65534;
	n = nat_create(&s, err);
	if (n == NULL)
		FZ_OOPS("nat_create(variant 0x%02x): %s", variant, err);
	return n;
}

/* Switch to another variant's rules and options (a reload). */
static inline void
fz_reconfigure(struct nat *n, unsigned variant, uint32_t max_flows)
{
	struct nat_rule rules[12];
	struct nat_settings s;
	char err[ERRLEN] = "";

	fz_settings(&s, rules, variant, max_flows);
	/* max_flows and the hash key are the creation's; rejection is fine */
	if (nat_reconfigure(n, &s, err) == 0)
		fz_ttl_mode = s.ttl_mode;
}

/* --- checksums --- */

static inline uint16_t
fz_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
fz_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* RFC 1624 eqn. 3 update of the checksum at c for a word old -> new. */
static inline void
fz_csum_adjust(uint8_t *c, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~fz_get16(c);

	s += (uint16_t)~old;
	s += new;
	fz_put16(c, (uint16_t)~csum_full_fold(s));
}

/* --- a small, independent IP parser for the checks --- */

struct fz_ip {
	int family;		/* 4 or 6 */
	size_t hlen;		/* IP header incl. v6 extension headers */
	size_t totlen;		/* from the header, <= the buffer length */
	uint8_t proto;
	bool frag;		/* a fragment (first or later) */
	bool later_frag;	/* offset != 0 */
	size_t l4len;
};

/* Parse the IP layer; -1 if the packet is not a well-formed datagram. */
static inline int
fz_parse(const uint8_t *p, size_t len, struct fz_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (len < 1)
		return -1;
	if (p[0] >> 4 == 4) {
		uint16_t off;

		if (len < 20 || (p[0] & 0xf) < 5)
			return -1;
		ip->family = 4;
		ip->hlen = (size_t)(p[0] & 0xf) * 4;
		ip->totlen = fz_get16(p + 2);
		if (ip->totlen < ip->hlen || ip->totlen > len)
			return -1;
		ip->proto = p[9];
		off = fz_get16(p + 6);
		ip->frag = (off & 0x3fff) != 0;
		ip->later_frag = (off & 0x1fff) != 0;
	} else if (p[0] >> 4 == 6) {
		uint8_t nh;
		size_t o = 40;

		if (len < 40)
			return -1;
		ip->family = 6;
		ip->totlen = 40 + (size_t)fz_get16(p + 4);
		if (ip->totlen > len)
			return -1;
		nh = p[6];
		for (;;) {
			if (nh == 0 || nh == 43 || nh == 60) {
				if (o + 8 > ip->totlen)
					return -1;
				nh = p[o];
				o += 8 + (size_t)p[o + 1] * 8;
			} else if (nh == 44) {
				if (o + 8 > ip->totlen)
					return -1;
				ip->frag = true;
				ip->later_frag = (fz_get16(p + o + 2) & 0xfff8) != 0;
				nh = p[o];
				o += 8;
			} else
				break;
			if (o > ip->totlen)
				return -1;
		}
		ip->hlen = o;
		ip->proto = nh;
	} else
		return -1;
	ip->l4len = ip->totlen - ip->hlen;
	return 0;
}

/* Offset of the L4 checksum field in the L4 header, or -1. */
static inline int
fz_csum_off(const struct fz_ip *ip)
{
	switch (ip->proto) {
	case 6: return ip->l4len >= 20 ? 16 : -1;
	case 17: return ip->l4len >= 8 ? 6 : -1;
	case 1: return ip->family == 4 && ip->l4len >= 8 ? 2 : -1;
	case 58: return ip->family == 6 && ip->l4len >= 8 ? 2 : -1;
	}
	return -1;
}

/* 1 if the IPv4 header checksum verifies (always 1 for IPv6). */
static inline int
fz_ip_ok(const uint8_t *p, const struct fz_ip *ip)
{
	if (ip->family == 6)
		return 1;
	return csum_full_fold(csum_full_sum(p, ip->hlen, 0)) == 0xffff;
}

/*
 * 1 if the complete L4 checksum verifies, 0 if not, -1 if it cannot be
 * judged (fragment, no checksum, unknown protocol).
 */
static inline int
fz_l4_ok(const uint8_t *p, const struct fz_ip *ip)
{
	uint32_t s;
	int co = fz_csum_off(ip);

	if (ip->frag || co < 0)
		return -1;
	if (ip->proto == 17 && fz_get16(p + ip->hlen + 6) == 0)
		return -1;
	s = csum_full_sum(p + ip->hlen, ip->l4len, 0);
	if (ip->proto != 1)
		s += csum_full_pseudo(p, ip->proto, ip->l4len);
	return csum_full_fold(s) == 0xffff;
}

/* Equal as one's complement numbers (0x0000 == 0xffff). */
static inline bool
fz_oc_eq(uint16_t a, uint16_t b)
{
	if (a == 0xffff)
		a = 0;
	if (b == 0xffff)
		b = 0;
	return a == b;
}

/*
 * 1 if the L4 checksum field holds the pseudo header sum (NEEDS_CSUM
 * convention), 0 if not, -1 if not applicable.
 */
static inline int
fz_partial_ok(const uint8_t *p, const struct fz_ip *ip)
{
	int co = fz_csum_off(ip);

	if (co < 0 || ip->frag || (ip->proto != 6 && ip->proto != 17))
		return -1;
	return fz_oc_eq(fz_get16(p + ip->hlen + (size_t)co),
	    csum_full_fold(csum_full_pseudo(p, ip->proto, ip->l4len)));
}

/* What the checks need to remember about an input packet. */
struct fz_before {
	bool parsed;
	struct fz_ip ip;
	int ip_ok;
	int l4_ok;		/* complete checksum state, -1 n/a */
	int partial_ok;		/* NEEDS_CSUM state, -1 n/a */
	bool needs_csum;	/* vnet said NEEDS_CSUM at the right place */
	size_t len;
	uint8_t ttl;
	const uint8_t *orig;	/* the input, kept unchanged by the caller */
};

/* TTL or hop limit of a parsed packet. */
static inline uint8_t
fz_ttl(const uint8_t *p, const struct fz_ip *ip)
{
	return ip->family == 4 ? p[8] : p[7];
}

/* 1 if a packet that was sent on has the TTL the mode asks for. */
static inline int
fz_ttl_ok(uint8_t in, uint8_t out)
{
	switch (fz_ttl_mode) {
	case NAT_TTL_DECREMENT:
		return in > 1 && out == in - 1;
	case NAT_TTL_RESTORE:
		return out == (in == 255 ? 255 : in + 1);
	default:
		return out == in;
	}
}

/*
 * Record the checksum state of an input packet; p must stay unchanged while
 * the engine works on its copy.
 */
static inline void
fz_note(struct fz_before *b, const uint8_t *p, size_t len,
    const struct nat_vnet *vnet)
{
	memset(b, 0, sizeof(*b));
	b->len = len;
	b->orig = p;
	b->l4_ok = b->partial_ok = -1;
	if (fz_parse(p, len, &b->ip) < 0)
		return;
	b->parsed = true;
	b->ttl = fz_ttl(p, &b->ip);
	b->ip_ok = fz_ip_ok(p, &b->ip);
	if (vnet != NULL && (vnet->flags & NAT_VNET_NEEDS_CSUM)) {
		int co = fz_csum_off(&b->ip);

		if (co >= 0 && vnet->csum_start == b->ip.hlen &&
		    vnet->csum_offset == co) {
			b->needs_csum = true;
			b->partial_ok = fz_partial_ok(p, &b->ip);
		}
	} else
		b->l4_ok = fz_l4_ok(p, &b->ip);
}

/* Check an ICMP error the engine generated (NAT_REPLY). */
static inline void
fz_check_reply(const uint8_t *p, size_t len, size_t cap)
{
	struct fz_ip ip;

	if (len > cap)
		FZ_OOPS("reply of %zu bytes in a %zu byte buffer", len, cap);
	if (fz_parse(p, len, &ip) < 0)
		FZ_OOPS("generated reply does not parse (len %zu)", len);
#ifndef FUZZ_NO_ORACLE
	if (ip.totlen != len)
		FZ_OOPS("reply length %zu != IP length %zu", len, ip.totlen);
	if (!fz_ip_ok(p, &ip))
		FZ_OOPS("reply IPv4 header checksum wrong");
	if (ip.family == 4 && (ip.proto != 1 || ip.totlen > 576))
		FZ_OOPS("reply not ICMP or over 576 bytes (%zu)", ip.totlen);
	if (ip.family == 6 && (ip.proto != 58 || ip.totlen > 1280))
		FZ_OOPS("reply not ICMPv6 or over 1280 bytes (%zu)", ip.totlen);
	if (fz_l4_ok(p, &ip) != 1)
		FZ_OOPS("reply ICMP checksum wrong");
#endif
}

/* Check a translated packet against what it was before. */
static inline void
fz_check_forward(const struct fz_before *b, const uint8_t *p, size_t len,
    size_t cap)
{
	struct fz_ip ip;

	if (len > cap)
		FZ_OOPS("forwarded %zu bytes in a %zu byte buffer", len, cap);
	if (!b->parsed)
		return;
#ifndef FUZZ_NO_ORACLE
	if (fz_parse(p, len, &ip) < 0)
		FZ_OOPS("forwarded packet no longer parses");
	if (ip.family != b->ip.family || ip.l4len != b->ip.l4len)
		FZ_OOPS("forwarded packet changed family or L4 length");
	if (b->ip_ok && !fz_ip_ok(p, &ip))
		FZ_OOPS("IPv4 header checksum broken by translation");
#ifndef FUZZ_NO_TTL_ORACLE
	if (!fz_ttl_ok(b->ttl, fz_ttl(p, &ip)))
		FZ_OOPS("TTL %u sent on as %u (TTL mode %u)", b->ttl,
		    fz_ttl(p, &ip), fz_ttl_mode);
#endif
	if (b->l4_ok == 1 && ip.proto == b->ip.proto && fz_l4_ok(p, &ip) == 0)
		FZ_OOPS("L4 checksum (proto %u) broken by translation",
		    ip.proto);
	if (b->needs_csum && b->partial_ok == 1 && fz_partial_ok(p, &ip) == 0)
		FZ_OOPS("NEEDS_CSUM pseudo header sum (proto %u) broken by "
		    "translation", ip.proto);
#else
	(void)ip;
	(void)p;
#endif
}

/* Check verdict and result of one nat_process call. */
static inline void
fz_check(enum nat_verdict v, enum nat_drop_reason why,
    const struct fz_before *b, const struct nat_pkt *pkt)
{
#ifdef FUZZ_TRACE
	fprintf(stderr, "  %u bytes -> verdict %u%s%s\n", (unsigned)b->len,
	    (unsigned)v, v == NAT_DROP ? " " : "",
	    v == NAT_DROP ? nat_drop_name(why) : "");
#endif
	switch (v) {
	case NAT_FORWARD:
		fz_check_forward(b, pkt->data, pkt->len, pkt->cap);
		break;
	case NAT_REPLY:
		fz_check_reply(pkt->data, pkt->len, pkt->cap);
		break;
	case NAT_DROP:
		if ((unsigned)why >= NAT_DROP_MAX)
			FZ_OOPS("drop reason %u out of range", (unsigned)why);
		if (nat_drop_name(why) == NULL)
			FZ_OOPS("no name for drop reason %u", (unsigned)why);
		break;
	case NAT_NOT_OURS:
#ifndef FUZZ_NO_ORACLE
		if (pkt->len != b->len || memcmp(pkt->data, b->orig, b->len) != 0)
			FZ_OOPS("packet changed although not ours");
#endif
		break;
	case NAT_QUEUED:
		break;
	default:
		FZ_OOPS("verdict %u out of range", (unsigned)v);
	}
}

/* Addresses and ports (ICMP echo: the id as both) of a packet. */
struct fz_ends {
	int family;
	uint8_t proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

/* Read the endpoints of a TCP, UDP or ICMP echo packet; -1 otherwise. */
static inline int
fz_ends(const uint8_t *p, size_t len, struct fz_ends *e)
{
	struct fz_ip ip;
	size_t al;
	const uint8_t *l4;

	memset(e, 0, sizeof(*e));
	if (fz_parse(p, len, &ip) < 0 || ip.later_frag)
		return -1;
	al = ip.family == 4 ? 4 : 16;
	e->family = ip.family;
	e->proto = ip.proto;
	memcpy(e->src, p + (ip.family == 4 ? 12 : 8), al);
	memcpy(e->dst, p + (ip.family == 4 ? 16 : 24), al);
	l4 = p + ip.hlen;
	if ((ip.proto == 6 && ip.l4len >= 20) ||
	    (ip.proto == 17 && ip.l4len >= 8)) {
		e->sport = fz_get16(l4);
		e->dport = fz_get16(l4 + 2);
	} else if (ip.l4len >= 8 && ((ip.proto == 1 && (l4[0] == 8 ||
	    l4[0] == 0)) || (ip.proto == 58 && (l4[0] == 128 ||
	    l4[0] == 129)))) {
		e->sport = e->dport = fz_get16(l4 + 4);
	} else
		return -1;
	return 0;
}

/*
 * The answer to a packet must reach the client as the exact reverse of what
 * the client sent (docs/engine.md, "Flows and keys").
 */
static inline void
fz_check_round_trip(const uint8_t *sent, size_t sentlen, const uint8_t *got,
    size_t gotlen)
{
#ifndef FUZZ_NO_ORACLE
	struct fz_ends a, b;

	if (fz_ends(sent, sentlen, &a) < 0)
		return;
	if (fz_ends(got, gotlen, &b) < 0)
		FZ_OOPS("the answer came back unreadable");
	if (a.family != b.family || a.proto != b.proto ||
	    memcmp(a.src, b.dst, 16) != 0 || memcmp(a.dst, b.src, 16) != 0 ||
	    a.sport != b.dport || a.dport != b.sport)
		FZ_OOPS("the answer is not the reverse of the client's packet "
		    "(ports %u->%u came back as %u->%u)", a.sport, a.dport,
		    b.sport, b.dport);
#else
	(void)sent; (void)sentlen; (void)got; (void)gotlen;
#endif
}

/* --- building follow-up packets from a translated one --- */

/*
 * Turn a packet into its answer in place: swap addresses and ports, echo
 * request -> reply, optionally set TCP flags. Checksums stay valid (a swap
 * does not change a sum). Returns -1 if the packet does not parse.
 */
static inline int
fz_mirror(uint8_t *p, size_t len, uint8_t tcp_flags)
{
	struct fz_ip ip;
	uint8_t t[16];
	size_t al, ao;
	uint8_t *l4;

	if (fz_parse(p, len, &ip) < 0)
		return -1;
	al = ip.family == 4 ? 4 : 16;
	ao = ip.family == 4 ? 12 : 8;
	memcpy(t, p + ao, al);
	memcpy(p + ao, p + ao + al, al);
	memcpy(p + ao + al, t, al);
	if (ip.later_frag)
		return 0;
	l4 = p + ip.hlen;
	if ((ip.proto == 6 && ip.l4len >= 20) ||
	    (ip.proto == 17 && ip.l4len >= 8)) {
		memcpy(t, l4, 2);
		memcpy(l4, l4 + 2, 2);
		memcpy(l4 + 2, t, 2);
		if (ip.proto == 6 && tcp_flags != 0) {
			uint16_t old = fz_get16(l4 + 12);
			uint16_t new = (uint16_t)((old & 0xff00) | tcp_flags);

			fz_put16(l4 + 12, new);
			if (!ip.frag)
				fz_csum_adjust(l4 + 16, old, new);
		}
	} else if (ip.l4len >= 8 && ((ip.proto == 1 && l4[0] == 8) ||
	    (ip.proto == 58 && l4[0] == 128))) {
		uint16_t old = fz_get16(l4);

		l4[0] = ip.proto == 1 ? 0 : 129;
		if (!ip.frag)
			fz_csum_adjust(l4 + 2, old, fz_get16(l4));
	}
	return 0;
}

/*
 * Wrap a packet in an ICMP error sent back to its source (from its
 * destination, or from a router on the way when from_router). kind picks
 * the error type. Returns the new length, 0 if it does not fit or parse.
 */
static inline size_t
fz_icmp_error(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap,
    unsigned kind, bool from_router)
{
	static const uint8_t v4[4][2] = { { 3, 3 }, { 3, 4 }, { 11, 0 },
	    { 12, 0 } };
	static const uint8_t v6[4][2] = { { 1, 4 }, { 2, 0 }, { 3, 0 },
	    { 4, 0 } };
	struct fz_ip ip;
	size_t hl, q, n;
	uint8_t *icmp;

	if (fz_parse(in, inlen, &ip) < 0)
		return 0;
	hl = ip.family == 4 ? 20 : 40;
	q = ip.totlen;
	if (q > (ip.family == 4 ? 576u : 1280u) - hl - 8)
		q = (ip.family == 4 ? 576u : 1280u) - hl - 8;
	if ((kind & 4) && q > ip.hlen + 8)
		q = ip.hlen + 8;	/* the RFC 792 minimum quote */
	n = hl + 8 + q;
	if (n > cap)
		return 0;
	memset(out, 0, hl + 8);
	icmp = out + hl;
	memcpy(icmp + 8, in, q);
	if (ip.family == 4) {
		out[0] = 0x45;
		fz_put16(out + 2, (uint16_t)n);
		out[8] = 64;
		out[9] = 1;
		memcpy(out + 12, in + 16, 4);
		memcpy(out + 16, in + 12, 4);
		if (from_router) {
			out[12] = 100; out[13] = 64; out[14] = 0; out[15] = 9;
		}
		fz_put16(out + 10, (uint16_t)~csum_full_fold(csum_full_sum(out, 20, 0)));
		icmp[0] = v4[kind & 3][0];
		icmp[1] = v4[kind & 3][1];
		if (icmp[0] == 3 && icmp[1] == 4)
			fz_put16(icmp + 6, 1280);
		fz_put16(icmp + 2, (uint16_t)~csum_full_fold(csum_full_sum(icmp, 8 + q, 0)));
	} else {
		struct fz_ip oip;

		out[0] = 0x60;
		fz_put16(out + 4, (uint16_t)(8 + q));
		out[6] = 58;
		out[7] = 64;
		memcpy(out + 8, in + 24, 16);
		memcpy(out + 24, in + 8, 16);
		if (from_router)
			out[23] ^= 0x5a;
		icmp[0] = v6[kind & 3][0];
		icmp[1] = v6[kind & 3][1];
		if (icmp[0] == 2)
			fz_put16(icmp + 6, 1280);
		if (fz_parse(out, n, &oip) < 0)
			return 0;
		fz_put16(icmp + 2, (uint16_t)~csum_full_fold(csum_full_sum(icmp, 8 + q,
		    csum_full_pseudo(out, oip.proto, oip.l4len))));
	}
	return n;
}

/* What a walk of the flow table saw. */
struct fz_walk {
	size_t count;
	struct nat_flow_info f[64];
};

/* Walk the flow table and check what it shows. */
static inline int
fz_flow_cb(const struct nat_flow_info *f, void *arg)
{
	struct fz_walk *w = arg;

	if (w->count < 64)
		w->f[w->count] = *f;
	w->count++;
	if (f->family != 4 && f->family != 6)
		FZ_OOPS("flow with family %u", f->family);
	if (f->state != NULL && strlen(f->state) > 64)
		FZ_OOPS("flow state string too long");
	return 0;
}

/* A flow as text for oracle messages (first 4 address bytes for IPv6). */
static inline const char *
fz_flow_str(const struct nat_flow_info *f)
{
	static char s[2][200];
	static int i;

	i ^= 1;
	snprintf(s[i], sizeof(s[i]), "v%u proto %u %u.%u.%u.%u:%u -> "
	    "%u.%u.%u.%u:%u | reply %u.%u.%u.%u:%u -> %u.%u.%u.%u:%u "
	    "state %s rule %u", f->family, f->proto,
	    f->orig_src.b[0], f->orig_src.b[1], f->orig_src.b[2],
	    f->orig_src.b[3], f->orig_sport, f->orig_dst.b[0],
	    f->orig_dst.b[1], f->orig_dst.b[2], f->orig_dst.b[3],
	    f->orig_dport, f->reply_src.b[0], f->reply_src.b[1],
	    f->reply_src.b[2], f->reply_src.b[3], f->reply_sport,
	    f->reply_dst.b[0], f->reply_dst.b[1], f->reply_dst.b[2],
	    f->reply_dst.b[3], f->reply_dport, f->state ? f->state : "-",
	    (unsigned)f->rule_id);
	return s[i];
}

/*
 * 1 if a listed flow has its source address rewritten (full NAT or hairpin).
 * A kept source may still get another port when its reply key is taken
 * (port_pick_free); that is not a full NAT mapping.
 */
static inline bool
fz_snat(const struct nat_flow_info *f)
{
	return memcmp(&f->reply_dst, &f->orig_src, sizeof(f->orig_src)) != 0;
}

/*
 * Full NAT promises of docs/engine.md: relay ports from the NAT range,
 * never the client's own port, and no port overloading (one relay endpoint
 * belongs to one client endpoint). ICMP ids are left out.
 */
static inline void
fz_check_mappings(const struct fz_walk *w)
{
	size_t i, j, n = w->count < 64 ? w->count : 64;

	for (i = 0; i < n; i++) {
		const struct nat_flow_info *a = &w->f[i];

		if (a->proto == 1 || a->proto == 58 || !fz_snat(a))
			continue;
		if (a->reply_dport < fz_port_lo || a->reply_dport > fz_port_hi)
			FZ_OOPS("full NAT port %u outside %u-%u: %s",
			    a->reply_dport, fz_port_lo, fz_port_hi,
			    fz_flow_str(a));
		if (a->reply_dport == a->orig_sport)
			FZ_OOPS("full NAT reused the client port %u: %s",
			    a->orig_sport, fz_flow_str(a));
		for (j = i + 1; j < n; j++) {
			const struct nat_flow_info *b = &w->f[j];

			if (b->family != a->family || b->proto != a->proto ||
			    !fz_snat(b) || b->reply_dport != a->reply_dport ||
			    memcmp(&b->reply_dst, &a->reply_dst,
			    sizeof(a->reply_dst)) != 0)
				continue;
			if (b->orig_sport != a->orig_sport ||
			    memcmp(&b->orig_src, &a->orig_src,
			    sizeof(a->orig_src)) != 0)
				FZ_OOPS("relay port %u given to two client "
				    "endpoints: %s and %s", a->reply_dport,
				    fz_flow_str(a), fz_flow_str(b));
		}
	}
}

/* Table walk, stats and memory: all must be consistent with max_flows. */
static inline void
fz_inspect(struct nat *n, uint64_t now, uint32_t max_flows)
{
	struct nat_stats st;
	static struct fz_walk w;
	unsigned i;

	w.count = 0;
	nat_flows(n, now, fz_flow_cb, &w);
	nat_get_stats(n, &st);
	(void)nat_memory(n);
	for (i = 0; i < NAT_DROP_MAX; i++)
		(void)nat_drop_name((enum nat_drop_reason)i);
	for (i = 0; i < NAT_TCP_STATE_MAX; i++)
		(void)nat_tcp_state_name((enum nat_tcp_state)i);
	if (w.count > max_flows)
		FZ_OOPS("%zu flows listed, max_flows %u", w.count, max_flows);
#ifndef FUZZ_NO_ORACLE
	if (st.flows_active > max_flows)
		FZ_OOPS("flows_active %llu > max_flows %u",
		    (unsigned long long)st.flows_active, max_flows);
	/* expired flows may be hidden from the walk before a sweep */
	if (w.count > st.flows_active)
		FZ_OOPS("flows_active %llu but %zu flows listed",
		    (unsigned long long)st.flows_active, w.count);
	fz_check_mappings(&w);
#endif
}

/* Release queued fragments; each must fit the buffer it was copied to. */
static inline void
fz_drain(struct nat *n, uint8_t *buf, size_t cap)
{
	struct nat_pkt pkt;
	enum nat_side side;
	int r, i;

	for (i = 0; i < 4096; i++) {
		memset(&pkt, 0, sizeof(pkt));
		pkt.data = buf;
		pkt.cap = cap;
		r = nat_pending(n, &pkt, &side);
		if (r <= 0)
			return;
		if (pkt.len > cap || (unsigned)side >= NAT_SIDE_MAX)
			FZ_OOPS("nat_pending gave %zu bytes / side %u",
			    pkt.len, (unsigned)side);
#if !defined(FUZZ_NO_ORACLE) && !defined(FUZZ_NO_TTL_ORACLE)
		{
			struct fz_ip ip;

			if (fz_ttl_mode == NAT_TTL_DECREMENT &&
			    fz_parse(buf, pkt.len, &ip) == 0 &&
			    fz_ttl(buf, &ip) == 0)
				FZ_OOPS("queued fragment released with TTL 0");
		}
#endif
	}
	FZ_OOPS("nat_pending never runs dry");
}

#endif
