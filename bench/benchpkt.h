/*
 * benchpkt.h - small IPv4 packet builder and reader for bench/nat-bench.c,
 * bench/shard-bench.c and bench/nat-demo.c (header only; every function is
 * static).
 */
#ifndef TUNRELAY_BENCHPKT_H
#define TUNRELAY_BENCHPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/csum_full.h"

#define BP_FIN 0x01
#define BP_SYN 0x02
#define BP_RST 0x04
#define BP_PSH 0x08
#define BP_ACK 0x10

/* An IPv4 address from four numbers, as a host-order integer. */
#define BP_IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
	(uint32_t)(c) << 8 | (uint32_t)(d))

static inline void
bp_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void
bp_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static inline uint16_t
bp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
bp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Write a 20-byte IPv4 header with its checksum. */
static inline void
bp_ip4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len,
    uint8_t ttl, uint16_t id)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	bp_put16(p + 2, (uint16_t)(20 + l4len));
	bp_put16(p + 4, id);
	bp_put16(p + 6, 0x4000);	/* DF */
	p[8] = ttl;
	p[9] = proto;
	bp_put32(p + 12, src);
	bp_put32(p + 16, dst);
	bp_put16(p + 10, (uint16_t)~csum_full_fold(csum_full_sum(p, 20, 0)));
}

/* Build an IPv4 TCP packet; an MSS option when mss != 0. Returns its length. */
static inline size_t
bp_tcp4(uint8_t *p, uint32_t src, uint16_t sport, uint32_t dst,
    uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t mss,
    const void *payload, size_t plen)
{
	uint8_t *t = p + 20;
	size_t hl = mss ? 24 : 20;

	memset(t, 0, hl);
	bp_put16(t, sport);
	bp_put16(t + 2, dport);
	bp_put32(t + 4, seq);
	bp_put32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	bp_put16(t + 14, 64240);
	if (mss) {
		t[20] = 2;
		t[21] = 4;
		bp_put16(t + 22, mss);
	}
	if (plen)
		memcpy(t + hl, payload, plen);
	bp_ip4(p, src, dst, 6, hl + plen, 64, 0x1000);
	bp_put16(t + 16, (uint16_t)~csum_full_fold(csum_full_sum(t, hl + plen,
	    csum_full_pseudo(p, 6, hl + plen))));
	return 20 + hl + plen;
}

#define BP_TMPL_PAYLOAD 64
#define BP_TMPL_LEN (20 + 20 + BP_TMPL_PAYLOAD)

/* A TCP ACK+PSH data packet template: the sums of all but addresses/ports. */
struct bp_tmpl {
	uint8_t pkt[BP_TMPL_LEN];
	uint32_t ip_sum;	/* IPv4 header without addresses, no checksum */
	uint32_t l4_sum;	/* TCP + pseudo header without addresses/ports */
};

/* Prepare the data packet template and its partial sums. */
static inline void
bp_tmpl_init(struct bp_tmpl *t)
{
	uint8_t payload[BP_TMPL_PAYLOAD];

	memset(payload, 'd', sizeof(payload));
	bp_tcp4(t->pkt, 0, 0, 0, 0, BP_ACK | BP_PSH, 1000, 2000, 0, payload,
	    sizeof(payload));
	bp_put16(t->pkt + 10, 0);
	bp_put16(t->pkt + 36, 0);
	t->ip_sum = csum_full_sum(t->pkt, 20, 0);
	t->l4_sum = csum_full_sum(t->pkt + 20, 20 + BP_TMPL_PAYLOAD, 0) + 6 +
	    20 + BP_TMPL_PAYLOAD;
}

/* Write the template's packet with these addresses and ports into p. */
static inline void
bp_tmpl_build(const struct bp_tmpl *t, uint8_t *p, uint32_t src,
    uint16_t sport, uint32_t dst, uint16_t dport)
{
	uint32_t a = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);

	memcpy(p, t->pkt, BP_TMPL_LEN);
	bp_put32(p + 12, src);
	bp_put32(p + 16, dst);
	bp_put16(p + 20, sport);
	bp_put16(p + 22, dport);
	bp_put16(p + 10, (uint16_t)~csum_full_fold(t->ip_sum + a));
	bp_put16(p + 36, (uint16_t)~csum_full_fold(t->l4_sum + a + sport +
	    dport));
}

/* Build an IPv4 UDP packet. Returns its length. */
static inline size_t
bp_udp4(uint8_t *p, uint32_t src, uint16_t sport, uint32_t dst,
    uint16_t dport, const void *payload, size_t plen)
{
	uint8_t *u = p + 20;
	uint16_t c;

	bp_put16(u, sport);
	bp_put16(u + 2, dport);
	bp_put16(u + 4, (uint16_t)(8 + plen));
	bp_put16(u + 6, 0);
	memcpy(u + 8, payload, plen);
	bp_ip4(p, src, dst, 17, 8 + plen, 64, 0x2000);
	c = (uint16_t)~csum_full_fold(csum_full_sum(u, 8 + plen, csum_full_pseudo(p, 17, 8 + plen)));
	bp_put16(u + 6, c ? c : 0xffff);
	return 28 + plen;
}

/* Build an IPv4 ICMP echo request (or reply). Returns its length. */
static inline size_t
bp_echo4(uint8_t *p, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
    bool reply)
{
	uint8_t *m = p + 20;
	size_t i;

	m[0] = reply ? 0 : 8;
	m[1] = 0;
	bp_put16(m + 2, 0);
	bp_put16(m + 4, id);
	bp_put16(m + 6, seq);
	for (i = 0; i < 56; i++)
		m[8 + i] = (uint8_t)(0x10 + i);
	bp_ip4(p, src, dst, 1, 64, 64, 0x3000);
	bp_put16(m + 2, (uint16_t)~csum_full_fold(csum_full_sum(m, 64, 0)));
	return 84;
}

/* What a reader sees in an IPv4 packet. */
struct bp_view {
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;	/* ICMP echo: id in sport */
	uint8_t flags;		/* TCP flags, or ICMP type */
	uint8_t ttl;
	size_t len;
};

/* Read an IPv4 TCP/UDP/ICMP packet; -1 if it is not one. */
static inline int
bp_read(const uint8_t *p, size_t len, struct bp_view *v)
{
	size_t hl;

	memset(v, 0, sizeof(*v));
	if (len < 20 || p[0] >> 4 != 4)
		return -1;
	hl = (size_t)(p[0] & 0xf) * 4;
	if (hl < 20 || len < hl + 8 || bp_get16(p + 2) != len)
		return -1;
	v->proto = p[9];
	v->ttl = p[8];
	v->src = bp_get32(p + 12);
	v->dst = bp_get32(p + 16);
	v->len = len;
	if (v->proto == 6 || v->proto == 17) {
		v->sport = bp_get16(p + hl);
		v->dport = bp_get16(p + hl + 2);
		if (v->proto == 6 && len >= hl + 20)
			v->flags = p[hl + 13];
	} else if (v->proto == 1) {
		v->flags = p[hl];
		v->sport = bp_get16(p + hl + 4);
	}
	return 0;
}

/* 1 if the IPv4 header and the TCP/UDP/ICMP checksums all verify. */
static inline int
bp_csum_ok(const uint8_t *p, size_t len)
{
	size_t hl = (size_t)(p[0] & 0xf) * 4, l4 = len - hl;
	uint32_t s;

	if (csum_full_fold(csum_full_sum(p, hl, 0)) != 0xffff)
		return 0;
	s = csum_full_sum(p + hl, l4, 0);
	if (p[9] == 6 || p[9] == 17)
		s += csum_full_pseudo(p, p[9], l4);
	return csum_full_fold(s) == 0xffff;
}

#endif
