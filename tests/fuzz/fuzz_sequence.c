/*
 * fuzz_sequence.c - libFuzzer harness: a sequence of packets through one
 * NAT engine with a tiny table, time moving on.
 *
 * Input: one byte of settings variant (see fz_settings), then records:
 *   [0]  bits 0-1 side (3 = public), bit 2 answer the translated packet,
 *        bits 3-4 side the answer comes from, bit 5 sweep afterwards,
 *        bit 6 ICMP error about the translated packet, bit 7 NEEDS_CSUM
 *   [1]  time step before the packet (see fs_step)
 *   [2]  TCP flags of the answer (0 = keep)
 *   [3-4] packet length, big-endian (cut to what is left)
 *   then the packet.
 *
 * max_flows 8, max_frags 4 and a 3000-byte fragment budget make eviction,
 * expiry, the fragment queue and mapping release reachable in a few records.
 *
 * Built with -DFUZZ_REPLAY it exports fuzz_sequence_one() for tests/fuzz/replay.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/nat.h"
#include "tests/fuzz/fuzz_common.h"

#define FS_REC 5
#define FS_MAX_FLOWS 8
#define FS_MAX_FRAGS 4
#define FS_FRAG_BYTES 3000
#define FS_SLACK 1024
#define FS_MAXPKT 65535

/* Milliseconds for a time-step code: ms, 100 ms, 10 s or 5 min units. */
static uint64_t
fs_step(uint8_t code)
{
	if (code < 64)
		return code;
	if (code < 128)
		return (uint64_t)(code - 64) * 100;
	if (code < 192)
		return (uint64_t)(code - 128) * 10000;
	return (uint64_t)(code - 192) * 300000;
}

/*
 * Process one packet in an exact-size buffer, check the result and copy a
 * forwarded packet to out. Returns the verdict.
 */
static enum nat_verdict
fs_one(struct nat *n, const uint8_t *data, size_t len, enum nat_side side,
    uint64_t now, bool needs_csum, uint8_t *out, size_t *outlen)
{
	enum nat_drop_reason why = NAT_DROP_MAX;
	struct fz_before before;
	struct nat_vnet vnet;
	struct nat_pkt pkt;
	enum nat_verdict v;
	struct fz_ip ip;
	int co;
	uint8_t *buf = malloc(len + FS_SLACK);

	if (buf == NULL)
		abort();
	memcpy(buf, data, len);
	pkt.data = buf;
	pkt.len = len;
	pkt.cap = len + FS_SLACK;
	pkt.vnet = NULL;
	if (needs_csum && fz_parse(data, len, &ip) == 0 &&
	    (co = fz_csum_off(&ip)) >= 0) {
		memset(&vnet, 0, sizeof(vnet));
		vnet.flags = NAT_VNET_NEEDS_CSUM;
		vnet.csum_start = (uint16_t)ip.hlen;
		vnet.csum_offset = (uint16_t)co;
		pkt.vnet = &vnet;
	}
	fz_note(&before, data, len, pkt.vnet);
	v = nat_process(n, &pkt, side, now, &why);
	fz_check(v, why, &before, &pkt);
	*outlen = 0;
	if (v == NAT_FORWARD && out != NULL && pkt.len <= FS_MAXPKT) {
		memcpy(out, buf, pkt.len);
		*outlen = pkt.len;
	}
	free(buf);
	return v;
}

int
fuzz_sequence_one(const uint8_t *data, size_t size)
{
	static uint8_t fwd[FS_MAXPKT], ans[FS_MAXPKT];
	uint8_t err[1400], scratch[2048];
	uint64_t now = 5000000;
	size_t off, len, fwdlen, anslen, errlen;
	unsigned records = 0;
	struct nat *n;

	if (size < 1)
		return 0;
	n = fz_create(data[0], FS_MAX_FLOWS, FS_MAX_FRAGS, FS_FRAG_BYTES);
	for (off = 1; off + FS_REC <= size && records < 256; records++) {
		const uint8_t *r = data + off;
		enum nat_side side = (enum nat_side)((r[0] & 3) % NAT_SIDE_MAX);
		enum nat_side aside = (enum nat_side)(((r[0] >> 3) & 3) %
		    NAT_SIDE_MAX);

		len = fz_get16(r + 3);
		off += FS_REC;
		if (len > size - off)
			len = size - off;
		now += fs_step(r[1]);
		if (fs_one(n, data + off, len, side, now, r[0] & 0x80, fwd,
		    &fwdlen) == NAT_FORWARD) {
			if (r[0] & 0x40) {
				errlen = fz_icmp_error(fwd, fwdlen, err,
				    sizeof(err), r[2] & 7, r[1] & 1);
				if (errlen > 0)
					fs_one(n, err, errlen, aside, now, false,
					    NULL, &anslen);
			}
			if (r[0] & 0x04) {
				memcpy(ans, fwd, fwdlen);
				if (fz_mirror(ans, fwdlen, r[2]) == 0)
					fs_one(n, ans, fwdlen, aside, now + 1,
					    r[0] & 0x80, NULL, &anslen);
			}
		}
		off += len;
		if (r[0] & 0x20)
			(void)nat_sweep(n, now, 1 + (r[1] & 15));
		fz_drain(n, scratch, sizeof(scratch));
		if ((records & 7) == 7)
			fz_inspect(n, now, FS_MAX_FLOWS);
	}
	fz_inspect(n, now, FS_MAX_FLOWS);
	(void)nat_sweep(n, now + 8000ULL * 1000, 100000);
	fz_inspect(n, now + 8000ULL * 1000, FS_MAX_FLOWS);
	nat_destroy(n);
	return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_sequence_one(data, size);
}
#endif
