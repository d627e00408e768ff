/*
 * pktgen.c - synthetic packets, checksum verifiers and parsers for the NAT
 * engine's unit tests. Every checksum here is computed in full over the bytes;
 * nothing is shared with the engine's incremental code.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"

/* Read a big-endian 16-bit value. */
static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Read a big-endian 32-bit value. */
static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Write a big-endian 16-bit value. */
static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Write a big-endian 32-bit value. */
static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Stop the test program on a builder misuse (a bug in the test itself). */
static void
die(const char *msg)
{
	fprintf(stderr, "pktgen: %s\n", msg);
	abort();
}

/* Parse a textual IPv4 or IPv6 address. */
struct nat_addr
pg_addr(const char *s)
{
	struct nat_addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, a.b) != 1)
			die("bad IPv6 address");
	} else if (inet_pton(AF_INET, s, a.b) != 1)
		die("bad IPv4 address");
	return a;
}

/* 4 or 6 by the look of the address. */
int
pg_addr_family(const char *s)
{
	return strchr(s, ':') != NULL ? 6 : 4;
}

/* Format an address. */
const char *
pg_addr_str(int family, const struct nat_addr *a, char *buf, size_t len)
{
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, a->b, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* Does a equal the textual address s (all 16 bytes)? */
bool
pg_addr_eq(const struct nat_addr *a, const char *s)
{
	struct nat_addr b = pg_addr(s);

	return memcmp(a->b, b.b, sizeof(b.b)) == 0;
}

/* Sum of the pseudo-header of the packet's addresses, proto and l4_len. */
uint32_t
pg_pseudo_sum(const uint8_t *p, size_t len, uint8_t proto, size_t l4_len)
{
	if (!(len >= 20 && p[0] >> 4 == 4) && !(len >= 40 && p[0] >> 4 == 6))
		die("pseudo-header of a non-IP packet");
	return csum_full_pseudo(p, proto, l4_len);
}

/* Fill a spec with defaults for proto from src:sport to dst:dport. */
void
pg_spec_init(struct pg_spec *sp, uint8_t proto, const char *src, uint16_t sport,
    const char *dst, uint16_t dport)
{
	memset(sp, 0, sizeof(*sp));
	sp->family = pg_addr_family(src);
	if (pg_addr_family(dst) != sp->family)
		die("mixed address families");
	sp->proto = proto;
	sp->src = pg_addr(src);
	sp->dst = pg_addr(dst);
	sp->sport = sport;
	sp->dport = dport;
	sp->ttl = 64;
	sp->ip_id = 0x1234;
	sp->win = 65535;
	sp->seq = 1000;
	sp->icmp_seq = 1;
}

/* Build the L4 part into l4; returns its length; *csum_at the checksum offset. */
static size_t
build_l4(const struct pg_spec *sp, uint8_t *l4, size_t cap, size_t *csum_at)
{
	size_t n = 0, i, optlen = 0;
	uint8_t opts[40];

	*csum_at = (size_t)-1;
	if (sp->raw_l4) {
		if (sp->payload_len > cap)
			die("raw L4 too long");
		if (sp->payload != NULL)
			memcpy(l4, sp->payload, sp->payload_len);
		else
			for (i = 0; i < sp->payload_len; i++)
				l4[i] = (uint8_t)(i * 7 + 3);
		return sp->payload_len;
	}
	switch (sp->proto) {
	case PKT_IPPROTO_TCP:
		if (sp->tcp_opts != NULL) {
			if (sp->tcp_opts_len > 40 || sp->tcp_opts_len % 4 != 0)
				die("TCP options must be a multiple of 4, at most 40");
			memcpy(opts, sp->tcp_opts, sp->tcp_opts_len);
			optlen = sp->tcp_opts_len;
		} else if (sp->mss != 0) {
			opts[0] = 2;
			opts[1] = 4;
			wr16(opts + 2, sp->mss);
			optlen = 4;
		}
		n = 20 + optlen;
		if (n + sp->payload_len > cap)
			die("TCP segment too long");
		memset(l4, 0, 20);
		wr16(l4, sp->sport);
		wr16(l4 + 2, sp->dport);
		wr32(l4 + 4, sp->seq);
		wr32(l4 + 8, sp->ack);
		l4[12] = (uint8_t)((n / 4) << 4);
		l4[13] = sp->tcp_flags;
		wr16(l4 + 14, sp->win);
		memcpy(l4 + 20, opts, optlen);
		*csum_at = 16;
		break;
	case PKT_IPPROTO_UDP:
		n = 8;
		if (n + sp->payload_len > cap)
			die("UDP datagram too long");
		memset(l4, 0, 8);
		wr16(l4, sp->sport);
		wr16(l4 + 2, sp->dport);
		wr16(l4 + 4, (uint16_t)(8 + sp->payload_len));
		*csum_at = 6;
		break;
	case PKT_IPPROTO_ICMP:
	case PKT_IPPROTO_ICMPV6:
		n = 8;
		memset(l4, 0, 8);
		l4[0] = sp->icmp_type;
		l4[1] = sp->icmp_code;
		*csum_at = 2;
		if (sp->quote != NULL) {
			if (sp->proto == PKT_IPPROTO_ICMP)
				wr16(l4 + 6, (uint16_t)sp->icmp_mtu);
			else
				wr32(l4 + 4, sp->icmp_mtu);
			if (n + sp->quote_len > cap)
				die("quote too long");
			memcpy(l4 + 8, sp->quote, sp->quote_len);
			return n + sp->quote_len;
		}
		wr16(l4 + 4, sp->sport);
		wr16(l4 + 6, sp->icmp_seq);
		if (n + sp->payload_len > cap)
			die("ICMP payload too long");
		break;
	default:
		die("unsupported protocol in spec");
	}
	if (sp->payload != NULL)
		memcpy(l4 + n, sp->payload, sp->payload_len);
	else
		for (i = 0; i < sp->payload_len; i++)
			l4[n + i] = (uint8_t)(i * 13 + 5);
	return n + sp->payload_len;
}

/* Build the IPv6 extension headers into h; returns their length. */
static size_t
build_ext6(const struct pg_spec *sp, uint8_t *h, uint8_t *first_nh)
{
	size_t off = 0, hl;
	int i;

	*first_nh = sp->n_ext > 0 ? sp->ext[0].type : sp->proto;
	for (i = 0; i < sp->n_ext; i++) {
		const struct pg_ext6 *e = &sp->ext[i];
		uint8_t nh = i + 1 < sp->n_ext ? sp->ext[i + 1].type : sp->proto;

		switch (e->type) {
		case PKT_IPPROTO_HOPOPTS:
		case PKT_IPPROTO_DSTOPTS:
			hl = 8 * ((size_t)e->len8 + 1);
			memset(h + off, 0, hl);
			h[off] = nh;
			h[off + 1] = e->len8;
			/* one PadN option filling the rest */
			h[off + 2] = 1;
			h[off + 3] = (uint8_t)(hl - 4);
			break;
		case PKT_IPPROTO_ROUTING:
			hl = 8 * ((size_t)e->len8 + 1);
			memset(h + off, 0, hl);
			h[off] = nh;
			h[off + 1] = e->len8;
			h[off + 2] = e->rt_type;
			h[off + 3] = 0;		/* segments left */
			break;
		case PKT_IPPROTO_FRAGMENT:
			hl = 8;
			memset(h + off, 0, hl);
			h[off] = nh;
			wr16(h + off + 2, (uint16_t)((e->frag_off & 0xfff8) | (e->frag_more ? 1 : 0)));
			wr32(h + off + 4, e->frag_id);
			break;
		default:
			die("unsupported extension header");
		}
		off += hl;
	}
	return off;
}

/* Build a packet from a spec; returns its length. */
size_t
pg_build(const struct pg_spec *sp, struct pg_pkt *out)
{
	uint8_t l4[PKT_CAP];
	size_t l4len, csum_at, hlen, i;
	uint8_t *p = out->data;
	uint16_t c;

	memset(out, 0, sizeof(*out));
	l4len = build_l4(sp, l4, sizeof(l4) - 200, &csum_at);
	if (sp->family == 4) {
		if (sp->ip_opts_len % 4 != 0 || sp->ip_opts_len > 40)
			die("IPv4 options must be a multiple of 4, at most 40");
		hlen = 20 + sp->ip_opts_len;
		memset(p, 0, hlen);
		p[0] = (uint8_t)(0x40 | (hlen / 4));
		p[1] = sp->tos;
		wr16(p + 2, (uint16_t)(hlen + l4len));
		wr16(p + 4, sp->ip_id);
		wr16(p + 6, (uint16_t)((sp->df ? 0x4000 : 0) | (sp->mf ? 0x2000 : 0) |
		    ((sp->frag_off / 8) & 0x1fff)));
		p[8] = sp->ttl;
		p[9] = sp->proto;
		memcpy(p + 12, sp->src.b, 4);
		memcpy(p + 16, sp->dst.b, 4);
		if (sp->ip_opts_len > 0)
			memcpy(p + 20, sp->ip_opts, sp->ip_opts_len);
		wr16(p + 10, (uint16_t)~csum_full_fold(csum_full_sum(p, hlen, 0)));
	} else {
		uint8_t nh;

		memset(p, 0, 40);
		p[0] = (uint8_t)(0x60 | (sp->tos >> 4));
		p[1] = (uint8_t)(sp->tos << 4);
		hlen = 40 + build_ext6(sp, p + 40, &nh);
		wr16(p + 4, (uint16_t)(hlen - 40 + l4len));
		p[6] = nh;
		p[7] = sp->ttl;
		memcpy(p + 8, sp->src.b, 16);
		memcpy(p + 24, sp->dst.b, 16);
	}
	memcpy(p + hlen, l4, l4len);
	out->len = hlen + l4len;
	if (csum_at == (size_t)-1)
		return out->len;

	/* the L4 checksum, over the pseudo-header where the protocol has one */
	if (sp->proto == PKT_IPPROTO_ICMP) {
		c = (uint16_t)~csum_full_fold(csum_full_sum(p + hlen, l4len, 0));
	} else if (sp->partial) {
		c = csum_full_fold(pg_pseudo_sum(p, out->len, sp->proto, l4len));
		out->has_vnet = true;
		out->vnet.flags = NAT_VNET_NEEDS_CSUM;
		out->vnet.csum_start = (uint16_t)hlen;
		out->vnet.csum_offset = (uint16_t)csum_at;
	} else {
		c = (uint16_t)~csum_full_fold(csum_full_sum(p + hlen, l4len,
		    pg_pseudo_sum(p, out->len, sp->proto, l4len)));
		if (c == 0 && sp->proto == PKT_IPPROTO_UDP)
			c = 0xffff;
	}
	if (sp->proto == PKT_IPPROTO_UDP && sp->udp_csum_zero)
		c = 0;
	if (sp->bad_l4_csum)
		c ^= 0x5555;
	wr16(p + hlen + csum_at, c);
	for (i = out->len; i < out->len + 16 && i < PKT_CAP; i++)
		p[i] = 0xee;	/* poison after the end: the engine must not read it */
	return out->len;
}

/* A TCP segment with flags (MSS option on SYN), seq 1000. */
size_t
pg_tcp(struct pg_pkt *out, const char *src, uint16_t sport, const char *dst,
    uint16_t dport, uint8_t flags)
{
	struct pg_spec sp;

	pg_spec_init(&sp, PKT_IPPROTO_TCP, src, sport, dst, dport);
	sp.tcp_flags = flags;
	if (flags & PKT_TCP_ACK)
		sp.ack = 5000;
	if (flags & PKT_TCP_SYN)
		sp.mss = 1460;
	else
		sp.payload_len = 10;
	return pg_build(&sp, out);
}

/* A UDP datagram with payload_len pattern bytes. */
size_t
pg_udp(struct pg_pkt *out, const char *src, uint16_t sport, const char *dst,
    uint16_t dport, size_t payload_len)
{
	struct pg_spec sp;

	pg_spec_init(&sp, PKT_IPPROTO_UDP, src, sport, dst, dport);
	sp.payload_len = payload_len;
	return pg_build(&sp, out);
}

/* An ICMP or ICMPv6 echo request (or reply) with identifier id. */
size_t
pg_echo(struct pg_pkt *out, const char *src, const char *dst, uint16_t id, bool reply)
{
	struct pg_spec sp;
	bool v6 = pg_addr_family(src) == 6;

	pg_spec_init(&sp, v6 ? PKT_IPPROTO_ICMPV6 : PKT_IPPROTO_ICMP, src, id, dst, 0);
	if (v6)
		sp.icmp_type = reply ? PKT_ICMP6_ECHO_REPLY : PKT_ICMP6_ECHO_REQUEST;
	else
		sp.icmp_type = reply ? PKT_ICMP_ECHOREPLY : PKT_ICMP_ECHO;
	sp.icmp_seq = 7;
	sp.payload_len = 24;
	return pg_build(&sp, out);
}

/* An ICMP(v6) error from src to dst quoting quote_len bytes of quote. */
size_t
pg_icmp_error(struct pg_pkt *out, const char *src, const char *dst, uint8_t type,
    uint8_t code, uint32_t mtu, const uint8_t *quote, size_t quote_len)
{
	struct pg_spec sp;
	bool v6 = pg_addr_family(src) == 6;

	pg_spec_init(&sp, v6 ? PKT_IPPROTO_ICMPV6 : PKT_IPPROTO_ICMP, src, 0, dst, 0);
	sp.icmp_type = type;
	sp.icmp_code = code;
	sp.icmp_mtu = mtu;
	sp.quote = quote;
	sp.quote_len = quote_len;
	return pg_build(&sp, out);
}

/* Copy a packet (data, length, vnet). */
void
pg_copy(struct pg_pkt *dst, const struct pg_pkt *src)
{
	memcpy(dst, src, sizeof(*dst));
}

/* Turn a complete TCP/UDP packet into what a TUN with IFF_VNET_HDR hands out. */
void
pg_make_partial(struct pg_pkt *p)
{
	struct pg_info pi;
	size_t at;

	if (pg_parse(p->data, p->len, &pi) != 0 || pi.is_frag)
		die("make_partial: not a whole packet");
	if (pi.proto == PKT_IPPROTO_TCP)
		at = 16;
	else if (pi.proto == PKT_IPPROTO_UDP)
		at = 6;
	else
		die("make_partial: not TCP/UDP");
	wr16(p->data + pi.l4_off + at,
	    csum_full_fold(pg_pseudo_sum(p->data, p->len, pi.proto, pi.l4_len)));
	p->has_vnet = true;
	memset(&p->vnet, 0, sizeof(p->vnet));
	p->vnet.flags = NAT_VNET_NEEDS_CSUM;
	p->vnet.csum_start = (uint16_t)pi.l4_off;
	p->vnet.csum_offset = (uint16_t)at;
}

/* Length of the IPv6 unfragmentable part (fixed header, hop-by-hop, routing). */
static size_t
unfrag_len6(const uint8_t *p, size_t len, size_t *nh_at)
{
	size_t off = 40;
	uint8_t nh = p[6];

	*nh_at = 6;
	while ((nh == PKT_IPPROTO_HOPOPTS || nh == PKT_IPPROTO_ROUTING) && off + 8 <= len) {
		*nh_at = off;
		nh = p[off];
		off += 8 * ((size_t)p[off + 1] + 1);
	}
	return off;
}

/*
 * Cut bytes [off, off+n) of the fragmentable part of a whole packet into a
 * fragment (last: no MF). IPv6 gets a fragment header with id. Returns length.
 */
size_t
pg_fragment(const uint8_t *full, size_t len, size_t off, size_t n, bool last,
    uint32_t id, uint8_t *out, size_t cap)
{
	size_t hl, nh_at;

	if (off % 8 != 0 || (!last && n % 8 != 0))
		die("fragment offsets must be multiples of 8");
	if (full[0] >> 4 == 4) {
		hl = (size_t)(full[0] & 15) * 4;
		if (hl + off + n > len || hl + n > cap)
			die("fragment out of range");
		memcpy(out, full, hl);
		memcpy(out + hl, full + hl + off, n);
		wr16(out + 2, (uint16_t)(hl + n));
		if (id != 0)
			wr16(out + 4, (uint16_t)id);
		wr16(out + 6, (uint16_t)((last ? 0 : 0x2000) | (off / 8)));
		pg_fix_ip_csum(out, hl + n);
		return hl + n;
	}
	hl = unfrag_len6(full, len, &nh_at);
	if (hl + off + n > len || hl + 8 + n > cap)
		die("fragment out of range");
	memcpy(out, full, hl);
	out[hl] = full[nh_at];
	out[hl + 1] = 0;
	wr16(out + hl + 2, (uint16_t)(off | (last ? 0 : 1)));
	wr32(out + hl + 4, id);
	out[nh_at] = PKT_IPPROTO_FRAGMENT;
	memcpy(out + hl + 8, full + hl + off, n);
	wr16(out + 4, (uint16_t)(hl + 8 + n - 40));
	return hl + 8 + n;
}

/* Put fragments back together (like the receiving host); returns length or 0. */
size_t
pg_reassemble(const uint8_t *const frags[], const size_t lens[], int n,
    uint8_t *out, size_t cap)
{
	struct pg_info pi;
	size_t hl = 0, total = 0, end;
	int i, first = -1;

	for (i = 0; i < n; i++) {
		if (pg_parse(frags[i], lens[i], &pi) != 0 || !pi.is_frag)
			return 0;
		if (pi.frag_off == 0)
			first = i;
	}
	if (first < 0)
		return 0;
	if (frags[first][0] >> 4 == 4) {
		hl = (size_t)(frags[first][0] & 15) * 4;
		if (hl > cap)
			return 0;
		memcpy(out, frags[first], hl);
	} else {
		size_t nh_at, fh;

		fh = unfrag_len6(frags[first], lens[first], &nh_at);
		if (fh + 8 > cap)
			return 0;
		memcpy(out, frags[first], fh);
		out[nh_at] = frags[first][fh];	/* next header of the fragment header */
		hl = fh;
	}
	for (i = 0; i < n; i++) {
		size_t dl;

		pg_parse(frags[i], lens[i], &pi);
		if (pi.family == 4) {
			dl = pi.tot_len - pi.ip_hlen;
			if (hl + pi.frag_off + dl > cap)
				return 0;
			memcpy(out + hl + pi.frag_off, frags[i] + pi.ip_hlen, dl);
		} else {
			size_t nh_at, fh = unfrag_len6(frags[i], lens[i], &nh_at);

			dl = pi.tot_len - fh - 8;
			if (hl + pi.frag_off + dl > cap)
				return 0;
			memcpy(out + hl + pi.frag_off, frags[i] + fh + 8, dl);
		}
		end = hl + pi.frag_off + dl;
		if (end > total)
			total = end;
	}
	if (out[0] >> 4 == 4) {
		wr16(out + 2, (uint16_t)total);
		wr16(out + 6, 0);
		pg_fix_ip_csum(out, total);
	} else
		wr16(out + 4, (uint16_t)(total - 40));
	return total;
}

/* Set TTL / hop limit (IPv4 header checksum recomputed). */
void
pg_set_ttl(struct pg_pkt *p, uint8_t ttl)
{
	if (p->data[0] >> 4 == 4) {
		p->data[8] = ttl;
		pg_fix_ip_csum(p->data, p->len);
	} else
		p->data[7] = ttl;
}

/* Recompute the IPv4 header checksum. */
void
pg_fix_ip_csum(uint8_t *p, size_t len)
{
	size_t hl = (size_t)(p[0] & 15) * 4;

	if (p[0] >> 4 != 4 || hl > len)
		return;
	wr16(p + 10, 0);
	wr16(p + 10, (uint16_t)~csum_full_fold(csum_full_sum(p, hl, 0)));
}

/* Recompute the L4 checksum of a whole packet in full. */
void
pg_fix_l4_csum(uint8_t *p, size_t len)
{
	struct pg_info pi;
	size_t at;
	uint32_t s = 0;
	uint16_t c;

	if (pg_parse(p, len, &pi) != 0 || pi.is_frag)
		die("fix_l4_csum: not a whole packet");
	switch (pi.proto) {
	case PKT_IPPROTO_TCP: at = 16; break;
	case PKT_IPPROTO_UDP: at = 6; break;
	case PKT_IPPROTO_ICMP: case PKT_IPPROTO_ICMPV6: at = 2; break;
	default: return;
	}
	wr16(p + pi.l4_off + at, 0);
	if (pi.proto != PKT_IPPROTO_ICMP)
		s = pg_pseudo_sum(p, len, pi.proto, pi.l4_len);
	c = (uint16_t)~csum_full_fold(csum_full_sum(p + pi.l4_off, pi.l4_len, s));
	if (c == 0 && pi.proto == PKT_IPPROTO_UDP)
		c = 0xffff;
	wr16(p + pi.l4_off + at, c);
}

/* Is the IPv4 header checksum right (always true for IPv6)? */
bool
pg_check_ip_csum(const uint8_t *p, size_t len)
{
	size_t hl;

	if (len < 1)
		return false;
	if (p[0] >> 4 == 6)
		return true;
	hl = (size_t)(p[0] & 15) * 4;
	if (p[0] >> 4 != 4 || hl < 20 || hl > len)
		return false;
	return csum_full_fold(csum_full_sum(p, hl, 0)) == 0xffff;
}

/* Is the L4 checksum of a whole (unfragmented) packet right, by full recompute? */
bool
pg_check_l4_csum(const uint8_t *p, size_t len)
{
	struct pg_info pi;
	uint32_t s;

	if (pg_parse(p, len, &pi) != 0 || pi.is_frag)
		return false;
	switch (pi.proto) {
	case PKT_IPPROTO_UDP:
		if (pi.family == 4 && pi.l4_csum == 0)
			return true;	/* no checksum */
		/* FALLTHROUGH */
	case PKT_IPPROTO_TCP:
	case PKT_IPPROTO_ICMPV6:
		s = pg_pseudo_sum(p, len, pi.proto, pi.l4_len);
		return csum_full_fold(csum_full_sum(p + pi.l4_off, pi.l4_len, s)) == 0xffff;
	case PKT_IPPROTO_ICMP:
		return csum_full_fold(csum_full_sum(p + pi.l4_off, pi.l4_len, 0)) == 0xffff;
	default:
		return true;
	}
}

/*
 * What the kernel does at egress with a NEEDS_CSUM packet: sum from csum_start
 * to the end, fold, complement, store at csum_start + csum_offset.
 */
int
pg_complete_partial(uint8_t *p, size_t len, const struct nat_vnet *vnet)
{
	size_t at;
	uint16_t c;

	if (vnet == NULL || !(vnet->flags & NAT_VNET_NEEDS_CSUM))
		return 0;
	at = (size_t)vnet->csum_start + vnet->csum_offset;
	if (vnet->csum_start >= len || at + 2 > len)
		return -1;
	c = (uint16_t)~csum_full_fold(csum_full_sum(p + vnet->csum_start, len - vnet->csum_start, 0));
	if (c == 0)
		c = 0xffff;	/* CSUM_MANGLED_0, as skb_checksum_help() does */
	wr16(p + at, c);
	return 0;
}

/*
 * Check every checksum of a packet by full recompute: the IP header, the L4
 * checksum (after completing a partial one as the kernel would) and, for ICMP
 * errors, the quoted IP header and the quoted L4 checksum when it is whole.
 */
bool
pg_check_all(const uint8_t *p, size_t len, const struct nat_vnet *vnet,
    char *why, size_t whylen)
{
	uint8_t buf[PKT_CAP];
	struct pg_info pi, in;
	const uint8_t *q;

	if (len > sizeof(buf)) {
		snprintf(why, whylen, "packet too long (%zu)", len);
		return false;
	}
	memcpy(buf, p, len);
	if (pg_complete_partial(buf, len, vnet) != 0) {
		snprintf(why, whylen, "vnet csum_start %u offset %u outside %zu bytes",
		    vnet->csum_start, vnet->csum_offset, len);
		return false;
	}
	if (pg_parse(buf, len, &pi) != 0) {
		snprintf(why, whylen, "packet does not parse");
		return false;
	}
	if (vnet != NULL && (vnet->flags & NAT_VNET_NEEDS_CSUM) &&
	    vnet->csum_start != pi.l4_off) {
		snprintf(why, whylen, "vnet csum_start %u but L4 at %zu",
		    vnet->csum_start, pi.l4_off);
		return false;
	}
	if (!pg_check_ip_csum(buf, len)) {
		snprintf(why, whylen, "bad IPv4 header checksum 0x%04x", rd16(buf + 10));
		return false;
	}
	if (!pi.is_frag && !pg_check_l4_csum(buf, len)) {
		snprintf(why, whylen, "bad L4 (proto %u) checksum 0x%04x%s", pi.proto,
		    pi.l4_csum, vnet != NULL && (vnet->flags & NAT_VNET_NEEDS_CSUM) ?
		    " (after completing the partial sum)" : "");
		return false;
	}
	if (!pi.icmp_err)
		return true;
	if (pg_inner(buf, &pi, &in) != 0) {
		snprintf(why, whylen, "quoted packet does not parse");
		return false;
	}
	q = buf + pi.inner_off;
	if (!pg_check_ip_csum(q, pi.inner_len)) {
		snprintf(why, whylen, "bad quoted IPv4 header checksum 0x%04x", rd16(q + 10));
		return false;
	}
	if (!in.is_frag && in.tot_len == pi.inner_len &&
	    !pg_check_l4_csum(q, pi.inner_len)) {
		snprintf(why, whylen, "bad quoted L4 (proto %u) checksum 0x%04x",
		    in.proto, in.l4_csum);
		return false;
	}
	return true;
}

/* Read the TCP options for an MSS option. */
static void
parse_tcp_opts(const uint8_t *p, size_t l4_off, size_t optend, struct pg_info *pi)
{
	size_t o = l4_off + 20;

	while (o < optend) {
		uint8_t kind = p[o];

		if (kind == 0)
			break;
		if (kind == 1) {
			o++;
			continue;
		}
		if (o + 1 >= optend || p[o + 1] < 2 || o + p[o + 1] > optend)
			break;
		if (kind == 2 && p[o + 1] == 4) {
			pi->mss = rd16(p + o + 2);
			pi->mss_off = o + 2;
		}
		o += p[o + 1];
	}
}

/* Parse the L4 header at pi->l4_off; quoted packets may be cut after 8 bytes. */
static int
parse_l4(const uint8_t *p, struct pg_info *pi, bool quoted)
{
	const uint8_t *l = p + pi->l4_off;
	size_t n = pi->l4_len;

	if (pi->is_frag && pi->frag_off != 0)
		return 0;
	switch (pi->proto) {
	case PKT_IPPROTO_TCP:
		if (n < (quoted ? 8u : 20u))
			return -1;
		pi->sport = rd16(l);
		pi->dport = rd16(l + 2);
		pi->seq = rd32(l + 4);
		if (n >= 14) {
			pi->ack = rd32(l + 8);
			pi->tcp_flags = l[13];
		}
		if (n >= 18)
			pi->l4_csum = rd16(l + 16);
		if (n >= 20) {
			size_t doff = (size_t)(l[12] >> 4) * 4;

			if (doff < 20 || (doff > n && !quoted))
				return -1;
			parse_tcp_opts(p, pi->l4_off, pi->l4_off + (doff < n ? doff : n), pi);
		}
		return 0;
	case PKT_IPPROTO_UDP:
		if (n < 8)
			return -1;
		pi->sport = rd16(l);
		pi->dport = rd16(l + 2);
		pi->udp_len = rd16(l + 4);
		pi->l4_csum = rd16(l + 6);
		return 0;
	case PKT_IPPROTO_ICMP:
	case PKT_IPPROTO_ICMPV6:
		if (n < 8)
			return -1;
		pi->icmp_type = l[0];
		pi->icmp_code = l[1];
		pi->l4_csum = rd16(l + 2);
		if ((pi->proto == PKT_IPPROTO_ICMP && pi->icmp_type != PKT_ICMP_ECHO &&
		    pi->icmp_type != PKT_ICMP_ECHOREPLY && pi->icmp_type != 13 &&
		    pi->icmp_type != 14) ||
		    (pi->proto == PKT_IPPROTO_ICMPV6 && pi->icmp_type < 128)) {
			pi->icmp_err = true;
			if (pi->proto == PKT_IPPROTO_ICMP)
				pi->icmp_mtu = rd16(l + 6);
			else
				pi->icmp_mtu = rd32(l + 4);
			pi->inner_off = pi->l4_off + 8;
			pi->inner_len = n - 8;
		} else {
			pi->sport = rd16(l + 4);
			pi->icmp_seq = rd16(l + 6);
		}
		return 0;
	default:
		return 0;
	}
}

/* Parse the IPv6 extension header chain from offset 40. */
static int
parse_ext6(const uint8_t *p, size_t end, struct pg_info *pi)
{
	size_t off = 40;
	uint8_t nh = p[6];
	int nfrag = 0;

	for (;;) {
		switch (nh) {
		case PKT_IPPROTO_HOPOPTS:
		case PKT_IPPROTO_ROUTING:
		case PKT_IPPROTO_DSTOPTS:
			if (off + 8 > end)
				return -1;
			nh = p[off];
			off += 8 * ((size_t)p[off + 1] + 1);
			break;
		case PKT_IPPROTO_FRAGMENT:
			if (off + 8 > end || ++nfrag > 1)
				return -1;
			pi->is_frag = true;
			pi->frag_off = rd16(p + off + 2) & 0xfff8;
			pi->mf = rd16(p + off + 2) & 1;
			pi->frag_id = rd32(p + off + 4);
			nh = p[off];
			off += 8;
			break;
		default:
			if (off > end)
				return -1;
			pi->proto = nh;
			pi->ip_hlen = off;
			pi->l4_off = off;
			return 0;
		}
	}
}

/* Parse a packet; quoted: the inside of an ICMP error (may be cut short). */
static int
parse(const uint8_t *p, size_t len, struct pg_info *pi, bool quoted)
{
	size_t end;

	memset(pi, 0, sizeof(*pi));
	if (len < 1)
		return -1;
	if (p[0] >> 4 == 4) {
		size_t hl = (size_t)(p[0] & 15) * 4;
		uint16_t fo;

		if (len < 20 || hl < 20 || hl > len)
			return -1;
		pi->family = 4;
		pi->tos = p[1];
		pi->tot_len = rd16(p + 2);
		if (pi->tot_len < hl || (!quoted && pi->tot_len > len))
			return -1;
		end = pi->tot_len < len ? pi->tot_len : len;
		pi->ip_id = rd16(p + 4);
		fo = rd16(p + 6);
		pi->df = fo & 0x4000;
		pi->mf = fo & 0x2000;
		pi->frag_off = (uint16_t)((fo & 0x1fff) * 8);
		pi->is_frag = pi->mf || pi->frag_off != 0;
		pi->frag_id = pi->ip_id;
		pi->ttl = p[8];
		pi->proto = p[9];
		memcpy(pi->src.b, p + 12, 4);
		memcpy(pi->dst.b, p + 16, 4);
		pi->ip_hlen = hl;
		pi->l4_off = hl;
	} else if (p[0] >> 4 == 6) {
		if (len < 40)
			return -1;
		pi->family = 6;
		pi->tos = (uint8_t)((p[0] & 15) << 4 | p[1] >> 4);
		pi->tot_len = 40 + (size_t)rd16(p + 4);
		if (!quoted && pi->tot_len > len)
			return -1;
		end = pi->tot_len < len ? pi->tot_len : len;
		pi->ttl = p[7];
		memcpy(pi->src.b, p + 8, 16);
		memcpy(pi->dst.b, p + 24, 16);
		if (parse_ext6(p, end, pi) != 0)
			return -1;
	} else
		return -1;
	pi->l4_len = end - pi->l4_off;
	return parse_l4(p, pi, quoted);
}

/* Parse a whole packet (lengths must agree with the buffer). */
int
pg_parse(const uint8_t *p, size_t len, struct pg_info *pi)
{
	return parse(p, len, pi, false);
}

/* Parse a quoted packet: total length may exceed the bytes present. */
int
pg_parse_quoted(const uint8_t *p, size_t len, struct pg_info *pi)
{
	return parse(p, len, pi, true);
}

/* Parse the packet quoted in an ICMP error; offsets relative to the quote. */
int
pg_inner(const uint8_t *p, const struct pg_info *outer, struct pg_info *inner)
{
	if (!outer->icmp_err)
		return -1;
	return pg_parse_quoted(p + outer->inner_off, outer->inner_len, inner);
}

/* Is the packet src:sport -> dst:dport? Explains a mismatch in why. */
bool
pg_tuple_is(const struct pg_info *pi, const char *src, uint16_t sport,
    const char *dst, uint16_t dport, char *why, size_t whylen)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	if (pi->family == pg_addr_family(src) && pg_addr_eq(&pi->src, src) &&
	    pg_addr_eq(&pi->dst, dst) && pi->sport == sport && pi->dport == dport)
		return true;
	snprintf(why, whylen, "got %s:%u -> %s:%u, want %s:%u -> %s:%u",
	    pg_addr_str(pi->family, &pi->src, a, sizeof(a)), pi->sport,
	    pg_addr_str(pi->family, &pi->dst, b, sizeof(b)), pi->dport,
	    src, sport, dst, dport);
	return false;
}

/*
 * First differing byte of a and b outside addresses, the IP and L4 checksums,
 * and, if asked, ports (echo identifier) and TTL/hop limit; -1 when equal.
 */
long
pg_diff_xlate(const struct pg_pkt *a, const struct pg_pkt *b, bool ports, bool ttl)
{
	struct pg_info pi;
	size_t i, csum_at = 0;

	if (a->len != b->len)
		return (long)(a->len < b->len ? a->len : b->len);
	if (pg_parse(a->data, a->len, &pi) != 0)
		return 0;
	switch (pi.proto) {
	case PKT_IPPROTO_TCP: csum_at = pi.l4_off + 16; break;
	case PKT_IPPROTO_UDP: csum_at = pi.l4_off + 6; break;
	case PKT_IPPROTO_ICMP: case PKT_IPPROTO_ICMPV6: csum_at = pi.l4_off + 2; break;
	}
	for (i = 0; i < a->len; i++) {
		if (a->data[i] == b->data[i])
			continue;
		if (pi.family == 4 && (i == 10 || i == 11 || (i >= 12 && i < 20)))
			continue;
		if (pi.family == 6 && i >= 8 && i < 40)
			continue;
		if (ttl && i == (pi.family == 4 ? 8u : 7u))
			continue;
		if (csum_at != 0 && (i == csum_at || i == csum_at + 1) &&
		    !(pi.is_frag && pi.frag_off != 0))
			continue;
		if (ports && !(pi.is_frag && pi.frag_off != 0)) {
			if ((pi.proto == PKT_IPPROTO_TCP || pi.proto == PKT_IPPROTO_UDP) &&
			    i >= pi.l4_off && i < pi.l4_off + 4)
				continue;
			if ((pi.proto == PKT_IPPROTO_ICMP || pi.proto == PKT_IPPROTO_ICMPV6) &&
			    !pi.icmp_err && i >= pi.l4_off + 4 && i < pi.l4_off + 6)
				continue;
		}
		return (long)i;
	}
	return -1;
}

/* Run a packet through the engine in place. */
enum nat_verdict
pg_run(struct nat *n, struct pg_pkt *p, enum nat_side side, uint64_t now,
    enum nat_drop_reason *why)
{
	struct nat_pkt np;
	enum nat_drop_reason w = NAT_DROP_MAX;
	enum nat_verdict v;

	np.data = p->data;
	np.len = p->len;
	np.cap = PKT_CAP - 64;
	np.vnet = p->has_vnet ? &p->vnet : NULL;
	v = nat_process(n, &np, side, now, &w);
	if (np.data != p->data)
		die("engine replaced the data pointer");
	if (np.len > PKT_CAP - 64)
		die("engine returned a length beyond cap");
	p->len = np.len;
	if (why != NULL)
		*why = w;
	return v;
}

/* Sweep until the whole table has been walked (many bounded calls). */
size_t
pg_sweep_all(struct nat *n, uint64_t now)
{
	size_t total = 0;
	int i;

	for (i = 0; i < 64; i++)
		total += nat_sweep(n, now, 1 << 20);
	return total;
}

static int
count_cb(const struct nat_flow_info *fi, void *arg)
{
	(void)fi;
	(*(int *)arg)++;
	return 0;
}

/* Number of flows nat_flows() lists. */
int
pg_flow_count(const struct nat *n, uint64_t now)
{
	int c = 0;

	nat_flows(n, now, count_cb, &c);
	return c;
}

struct find_arg {
	uint8_t proto;
	struct nat_addr src;
	uint16_t sport;
	struct nat_flow_info *out;
	bool found;
};

static int
find_cb(const struct nat_flow_info *fi, void *arg)
{
	struct find_arg *fa = arg;

	if (fi->proto == fa->proto && fi->orig_sport == fa->sport &&
	    memcmp(fi->orig_src.b, fa->src.b, 16) == 0) {
		*fa->out = *fi;
		fa->found = true;
		return 1;
	}
	return 0;
}

/* Find the flow whose original source is osrc:osport. */
bool
pg_find_flow(const struct nat *n, uint64_t now, uint8_t proto, const char *osrc,
    uint16_t osport, struct nat_flow_info *out)
{
	struct find_arg fa;

	fa.proto = proto;
	fa.src = pg_addr(osrc);
	fa.sport = osport;
	fa.out = out;
	fa.found = false;
	nat_flows(n, now, find_cb, &fa);
	return fa.found;
}
