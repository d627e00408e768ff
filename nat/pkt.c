/*
 * pkt.c - bounds-checked parsing of IPv4/IPv6 packets and their L4 headers.
 */
#include "nat/nat_int.h"

#define MAX_EXT_HEADERS 8

/* Fail with a drop reason. */
static int
pkt_fail(enum nat_drop_reason *why, enum nat_drop_reason r)
{
	*why = r;
	return -1;
}

/* Offset of the L4 checksum field for proto, or -1. */
int
pkt_csum_offset(uint8_t proto)
{
	switch (proto) {
	case PROTO_TCP:
		return 16;
	case PROTO_UDP:
		return 6;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		return 2;
	}
	return -1;
}

/* Whether an ICMP (family 4) or ICMPv6 (6) type is an error we translate. */
bool
pkt_icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == 4)
		return type == 3 || type == 4 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/*
 * Whether a fragment is malformed: one that would reassemble beyond the
 * largest datagram (65535 bytes of payload), or one that is not the last
 * but does not carry a multiple of 8 bytes (the next offset cannot follow).
 */
static bool
pkt_frag_bad(uint32_t off, size_t payload, bool more)
{
	return off + payload > 65535 || (more && payload % 8 != 0) ||
	    (more && payload == 0);
}

/* Parse an IPv4 header; quoted packets (inside ICMP errors) may be cut short. */
static int
pkt_ip4(struct pkt_info *pi, uint8_t *p, size_t len, bool quoted,
    enum nat_drop_reason *why)
{
	size_t ihl, tot;
	uint16_t fo;

	if (len < 20)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20)
		return pkt_fail(why, NAT_DROP_BAD_HEADER);
	if (ihl > len)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	tot = rd16(p + 2);
	if (tot < ihl)
		return pkt_fail(why, NAT_DROP_BAD_HEADER);
	if (tot > len) {
		if (!quoted)
			return pkt_fail(why, NAT_DROP_TRUNCATED);
		tot = len;
	}
	pi->len = tot;
	pi->family = 4;
	pi->alen = 4;
	pi->proto = p[9];
	pi->ttl = p + 8;
	pi->src = p + 12;
	pi->dst = p + 16;
	fo = rd16(p + 6);
	if (fo & 0x3fff) {
		pi->frag = true;
		pi->first_frag = (fo & 0x1fff) == 0;
		pi->frag_off = (uint32_t)(fo & 0x1fff) * 8;
		pi->frag_id = rd16(p + 4);
		if (!quoted && pkt_frag_bad(pi->frag_off, tot - ihl,
		    (fo & 0x2000) != 0))
			return pkt_fail(why, NAT_DROP_FRAG);
		if (!pi->first_frag)
			return 0;
	}
	pi->l4off = (uint16_t)ihl;
	pi->l4len = tot - ihl;
	return 0;
}

/* Walk one IPv6 fragment header at off. */
static int
pkt_ip6_frag(struct pkt_info *pi, const uint8_t *p, size_t off, bool quoted,
    enum nat_drop_reason *why)
{
	uint16_t fo;

	if (pi->frag)
		return pkt_fail(why, NAT_DROP_BAD_HEADER);	/* two of them */
	if (off + 8 > pi->len)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	fo = rd16(p + off + 2);
	if ((fo & 0xfff8) == 0 && (fo & 1) == 0)
		return 0;	/* atomic fragment: a whole packet */
	pi->frag = true;
	pi->first_frag = (fo & 0xfff8) == 0;
	pi->frag_off = fo & 0xfff8;
	pi->frag_id = rd32(p + off + 4);
	if (!quoted && pkt_frag_bad(pi->frag_off, pi->len - off - 8, fo & 1))
		return pkt_fail(why, NAT_DROP_FRAG);
	return 0;
}

/* Parse an IPv6 header and walk its extension headers. */
static int
pkt_ip6(struct pkt_info *pi, uint8_t *p, size_t len, bool quoted,
    enum nat_drop_reason *why)
{
	size_t tot, off = 40, hl;
	uint8_t nh;
	int i;

	if (len < 40)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	tot = 40 + (size_t)rd16(p + 4);
	if (tot == 40 && p[6] == 0)
		return pkt_fail(why, NAT_DROP_UNSUPPORTED);	/* jumbogram */
	if (tot > len) {
		if (!quoted)
			return pkt_fail(why, NAT_DROP_TRUNCATED);
		tot = len;
	}
	pi->len = tot;
	pi->family = 6;
	pi->alen = 16;
	pi->ttl = p + 7;
	pi->src = p + 8;
	pi->dst = p + 24;
	nh = p[6];
	for (i = 0; i < MAX_EXT_HEADERS; i++) {
		switch (nh) {
		case 0:		/* hop-by-hop: only right after the header */
			if (off != 40)
				return pkt_fail(why, NAT_DROP_BAD_HEADER);
			/* FALLTHROUGH */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (off + 2 > tot)
				return pkt_fail(why, NAT_DROP_TRUNCATED);
			hl = ((size_t)p[off + 1] + 1) * 8;
			if (off + hl > tot)
				return pkt_fail(why, NAT_DROP_TRUNCATED);
			nh = p[off];
			off += hl;
			break;
		case 44:
			if (pkt_ip6_frag(pi, p, off, quoted, why) == -1)
				return -1;
			nh = p[off];
			off += 8;
			if (pi->frag && !pi->first_frag) {
				pi->proto = nh;
				return 0;
			}
			break;
		default:
			pi->proto = nh;
			pi->l4off = (uint16_t)off;
			pi->l4len = tot - off;
			return 0;
		}
	}
	return pkt_fail(why, NAT_DROP_BAD_HEADER);
}

/* Parse the TCP header; a first fragment must hold all of it (RFC 1858). */
static int
pkt_tcp(struct pkt_info *pi, const uint8_t *l4, bool quoted,
    enum nat_drop_reason *why)
{
	size_t doff;

	if (pi->l4len < (quoted ? 8 : 20))
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	pi->sport = rd16(l4);
	pi->dport = rd16(l4 + 2);
	if (quoted)
		return 0;
	doff = (size_t)(l4[12] >> 4) * 4;
	if (doff < 20)
		return pkt_fail(why, NAT_DROP_BAD_HEADER);
	if (doff > pi->l4len)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	pi->tcp_flags = l4[13] & 0x3f;
	return 0;
}

/* Parse the UDP header. */
static int
pkt_udp(struct pkt_info *pi, const uint8_t *l4, bool quoted,
    enum nat_drop_reason *why)
{
	size_t ulen;

	if (pi->l4len < 8)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	pi->sport = rd16(l4);
	pi->dport = rd16(l4 + 2);
	ulen = rd16(l4 + 4);
	if (!quoted && !pi->frag && (ulen < 8 || ulen > pi->l4len))
		return pkt_fail(why, NAT_DROP_BAD_HEADER);
	return 0;
}

/* Parse an ICMP or ICMPv6 header. */
static int
pkt_icmp(struct pkt_info *pi, const uint8_t *l4, enum nat_drop_reason *why)
{
	uint8_t req = pi->family == 4 ? 8 : 128;
	uint8_t rep = pi->family == 4 ? 0 : 129;

	if (pi->l4len < 8)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	pi->icmp_type = l4[0];
	if (l4[0] == req || l4[0] == rep) {
		pi->icmp_echo = true;
		pi->icmp_request = l4[0] == req;
		pi->sport = rd16(l4 + 4);
		pi->dport = 0;
	} else
		pi->icmp_error = pkt_icmp_is_error(pi->family, l4[0]);
	return 0;
}

/*
 * Parse the packet at p (len bytes available) into pi. quoted: the packet is
 * the one embedded in an ICMP error, which may be truncated but must still
 * hold 8 bytes of its upper-layer header.
 */
int
pkt_parse(struct pkt_info *pi, uint8_t *p, size_t len, bool quoted,
    enum nat_drop_reason *why)
{
	uint8_t *l4;
	int rc;

	memset(pi, 0, sizeof(*pi));
	pi->ip = p;
	if (len < 1)
		return pkt_fail(why, NAT_DROP_TRUNCATED);
	if (p[0] >> 4 == 4)
		rc = pkt_ip4(pi, p, len, quoted, why);
	else if (p[0] >> 4 == 6)
		rc = pkt_ip6(pi, p, len, quoted, why);
	else
		return pkt_fail(why, NAT_DROP_BAD_HEADER);
	if (rc == -1 || pi->l4off == 0)
		return rc;
	l4 = p + pi->l4off;
	if (pi->proto == PROTO_TCP)
		return pkt_tcp(pi, l4, quoted, why);
	if (pi->proto == PROTO_UDP)
		return pkt_udp(pi, l4, quoted, why);
	if ((pi->family == 4 && pi->proto == PROTO_ICMP) ||
	    (pi->family == 6 && pi->proto == PROTO_ICMPV6))
		return pkt_icmp(pi, l4, why);
	return 0;
}

/*
 * Whether a packet's L4 checksum is good or not ours to judge: one the
 * kernel vouched for (DATA_VALID) or still to be summed (partial) is taken
 * as it is; so is a first fragment, whose sum covers data not here. The
 * engine checks flow-opening packets (a bogus one must not hold a flow
 * slot) and ICMP errors; the endpoints check every other packet themselves.
 */
bool
pkt_csum_ok(const struct pkt_info *pi, const struct nat_pkt *pkt,
    bool partial)
{
	if (partial || pi->frag ||
	    (pkt->vnet != NULL && (pkt->vnet->flags & NAT_VNET_DATA_VALID)))
		return true;
	return pkt_l4_valid(pi);
}

/*
 * Whether the L4 checksum of a whole (unfragmented) packet verifies: TCP,
 * UDP and ICMPv6 with their pseudo-header, ICMP without. An IPv4 UDP
 * checksum of 0 means none was sent.
 */
bool
pkt_l4_valid(const struct pkt_info *pi)
{
	const uint8_t *l4 = pi->ip + pi->l4off;
	int off = pkt_csum_offset(pi->proto);
	uint32_t sum = 0;

	if (off < 0 || pi->l4off == 0 || pi->l4len < (size_t)off + 2)
		return true;
	if (pi->family == 4 && pi->proto == PROTO_UDP && rd16(l4 + 6) == 0)
		return true;
	if (pi->proto != PROTO_ICMP) {
		sum = csum_add(sum, pi->src, pi->alen);
		sum = csum_add(sum, pi->dst, pi->alen);
		sum += pi->proto + (uint32_t)(pi->l4len & 0xffff) +
		    (uint32_t)(pi->l4len >> 16);
	}
	sum = csum_add(sum, l4, pi->l4len);
	return csum_fold(sum) == 0xffff;
}
