/*
 * fuzz_packet.c - libFuzzer harness: one packet through a fresh NAT engine.
 *
 * Input: an 11-byte header, then the packet.
 *   [0]  bits 0-1 side (3 = public), bits 2-4 vnet mode, bits 5-6 buffer
 *        cap mode, bit 7 ICMP errors come from a router
 *   [1]  settings variant (see fz_settings)
 *   [2]  TCP flags for the synthesised answer (0 = keep)
 *   [3]  bits 0-2 ICMP error kind, bits 3-6 cap slack, bit 7 reload
 *   [4-5] csum_start, [6-7] csum_offset, [8-9] gso_size, [10] gso_type
 *        (used by the "fuzzed" vnet modes)
 *
 * The packet is processed from its side into a buffer of its own exact cap
 * (so ASan sees any write past it); a translated packet is then answered
 * (addresses and ports swapped) and wrapped in ICMP errors, and those are
 * fed from every side; the original is fed from the other sides, after an
 * optional reload; then pending fragments, sweep, flow walk and stats.
 * Checks (fuzz_common.h): checksums and TTL of what is sent on, generated
 * ICMP errors, "not ours" packets untouched, the answer coming back as the
 * exact reverse of the client's packet, full NAT ports and table counters.
 *
 * Built with -DFUZZ_REPLAY it exports fuzz_packet_one() for tests/fuzz/replay.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/nat.h"
#include "tests/fuzz/fuzz_common.h"

#define FP_HDR 11
#define FP_MAX_FLOWS 64
#define FP_MAXPKT 65535

struct fp_ctx {
	struct nat *nat;
	const uint8_t *hdr;
	uint64_t now;
};

/* Build the virtio-net header a TUN with IFF_VNET_HDR might give. */
static struct nat_vnet *
fp_vnet(const struct fp_ctx *c, const uint8_t *p, size_t len,
    struct nat_vnet *v)
{
	unsigned mode = (c->hdr[0] >> 2) & 7;
	struct fz_ip ip;
	int co;

	memset(v, 0, sizeof(*v));
	switch (mode) {
	case 1:		/* NEEDS_CSUM at the right place */
	case 3:		/* the same, plus GSO */
		if (fz_parse(p, len, &ip) < 0 || (co = fz_csum_off(&ip)) < 0)
			goto fuzzed;
		v->flags = NAT_VNET_NEEDS_CSUM;
		v->csum_start = (uint16_t)ip.hlen;
		v->csum_offset = (uint16_t)co;
		if (mode == 3 && (ip.proto == 6 || ip.proto == 17)) {
			/* VIRTIO_NET_HDR_GSO_TCPV4 1, UDP 3, TCPV6 4 */
			v->gso_type = ip.proto == 17 ? 3 :
			    ip.family == 4 ? 1 : 4;
			v->gso_size = (uint16_t)(fz_get16(c->hdr + 8) | 1);
			v->hdr_len = (uint16_t)(ip.hlen + (ip.proto == 17 ? 8 :
			    ip.l4len >= 20 ? (size_t)(p[ip.hlen + 12] >> 4) * 4 :
			    20));
		}
		return v;
	case 2:		/* NEEDS_CSUM anywhere */
	fuzzed:
		v->flags = NAT_VNET_NEEDS_CSUM;
		v->csum_start = fz_get16(c->hdr + 4);
		v->csum_offset = fz_get16(c->hdr + 6);
		return v;
	case 4:
		v->flags = NAT_VNET_DATA_VALID;
		return v;
	case 5:		/* everything fuzzed */
		v->flags = c->hdr[10] >> 6;
		v->gso_type = c->hdr[10] & 0x3f;
		v->csum_start = fz_get16(c->hdr + 4);
		v->csum_offset = fz_get16(c->hdr + 6);
		v->gso_size = fz_get16(c->hdr + 8);
		v->hdr_len = (uint16_t)(c->hdr[3] * 2);
		return v;
	case 6:
		return v;	/* present, no flags */
	}
	return NULL;
}

/* The buffer size for a packet of len bytes, by the cap mode. */
static size_t
fp_cap(const struct fp_ctx *c, size_t len)
{
	switch ((c->hdr[0] >> 5) & 3) {
	case 0:
		return len + 2048;
	case 1:
		return len;
	case 2:
		return len + ((c->hdr[3] >> 3) & 0xf) * 4;
	default:
		return len < 1500 ? 1500 : len;
	}
}

/*
 * Process one packet from a side in its own exact-size buffer and check the
 * result; copy a forwarded packet to out (when given). Returns the verdict.
 */
static enum nat_verdict
fp_one(struct fp_ctx *c, const uint8_t *data, size_t len, enum nat_side side,
    uint8_t *out, size_t *outlen)
{
	enum nat_drop_reason why = NAT_DROP_MAX;
	struct fz_before before;
	struct nat_vnet vnet;
	struct nat_pkt pkt;
	enum nat_verdict v;
	size_t cap = fp_cap(c, len);
	uint8_t *buf = malloc(cap ? cap : 1);

	if (buf == NULL)
		abort();
	memcpy(buf, data, len);
	pkt.data = buf;
	pkt.len = len;
	pkt.cap = cap;
	pkt.vnet = fp_vnet(c, data, len, &vnet);
	fz_note(&before, data, len, pkt.vnet);
	v = nat_process(c->nat, &pkt, side, c->now, &why);
	fz_check(v, why, &before, &pkt);
	if (out != NULL) {
		*outlen = 0;
		if (v == NAT_FORWARD && pkt.len <= FP_MAXPKT) {
			memcpy(out, buf, pkt.len);
			*outlen = pkt.len;
		}
	}
	free(buf);
	c->now += 7;
	return v;
}

/* Feed a packet from every side. */
static void
fp_all_sides(struct fp_ctx *c, const uint8_t *data, size_t len)
{
	int s;

	for (s = 0; s < NAT_SIDE_MAX; s++)
		fp_one(c, data, len, (enum nat_side)s, NULL, NULL);
}

/*
 * Answer a translated packet and report errors about it, from all sides.
 * The first answer that passes must be the reverse of the client's packet.
 */
static void
fp_follow_up(struct fp_ctx *c, const uint8_t *sent, size_t sentlen,
    const uint8_t *fwd, size_t fwdlen, enum nat_side side)
{
	static uint8_t ans[FP_MAXPKT], back[FP_MAXPKT], err[1400];
	size_t anslen, backlen = 0, errlen;
	unsigned kind = c->hdr[3] & 7;
	bool router = (c->hdr[0] & 0x80) != 0;

	/* an ICMP error about the translated packet, before any answer */
	errlen = fz_icmp_error(fwd, fwdlen, err, sizeof(err), kind, router);
	if (errlen > 0)
		fp_all_sides(c, err, errlen);

	/* the target's answer: first from the inside, then from elsewhere */
	memcpy(ans, fwd, fwdlen);
	anslen = fwdlen;
	if (fz_mirror(ans, anslen, c->hdr[2]) < 0)
		return;
	if (fp_one(c, ans, anslen, NAT_SIDE_INSIDE, back, &backlen) !=
	    NAT_FORWARD)
		fp_one(c, ans, anslen, side, back, &backlen);
	if (backlen > 0)
		fz_check_round_trip(sent, sentlen, back, backlen);
	fp_one(c, ans, anslen, NAT_SIDE_PUBLIC, NULL, NULL);
	fp_one(c, ans, anslen, NAT_SIDE_LAN, NULL, NULL);

	/* an ICMP error about the answer, from the client's side */
	if (backlen > 0) {
		errlen = fz_icmp_error(back, backlen, err, sizeof(err),
		    kind, router);
		if (errlen > 0)
			fp_all_sides(c, err, errlen);
	}
}

int
fuzz_packet_one(const uint8_t *data, size_t size)
{
	static uint8_t fwd[FP_MAXPKT];
	struct fp_ctx c;
	enum nat_side side;
	const uint8_t *p;
	size_t len, fwdlen = 0;
	unsigned variant;
	uint8_t scratch[1600];
	int s;

	if (size < FP_HDR || size - FP_HDR > FP_MAXPKT)
		return 0;
	c.hdr = data;
	c.now = 1000000;
	p = data + FP_HDR;
	len = size - FP_HDR;
	side = (enum nat_side)((data[0] & 3) % NAT_SIDE_MAX);
	variant = data[1];
	c.nat = fz_create(variant, FP_MAX_FLOWS, 16, 64 * 1024);

	if (fp_one(&c, p, len, side, fwd, &fwdlen) == NAT_FORWARD)
		fp_follow_up(&c, p, len, fwd, fwdlen, side);
	fz_drain(c.nat, scratch, sizeof(scratch));

	if (data[3] & 0x80)
		fz_reconfigure(c.nat, variant ^ 0x80, FP_MAX_FLOWS);
	/* the same packet again (existing flow), then from the other sides */
	for (s = 0; s < NAT_SIDE_MAX; s++)
		fp_one(&c, p, len, (enum nat_side)((side + s) % NAT_SIDE_MAX),
		    NULL, NULL);
	fz_drain(c.nat, scratch, 64);	/* too small: counted, not copied */
	fz_drain(c.nat, scratch, sizeof(scratch));

	fz_inspect(c.nat, c.now, FP_MAX_FLOWS);
	(void)nat_sweep(c.nat, c.now + 1000, 1);
	(void)nat_sweep(c.nat, c.now + 8000ULL * 1000, 1000);
	fz_inspect(c.nat, c.now + 8000ULL * 1000, FP_MAX_FLOWS);
	nat_destroy(c.nat);
	return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_packet_one(data, size);
}
#endif
