/*
 * sip.c - SipHash-1-3, the keyed hash of the flow tables.
 */
#include "nat/nat_int.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

/* Load 8 bytes little-endian. */
static uint64_t
sip_load(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* One SipRound on the state. */
static void
sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

/* SipHash-1-3 of len bytes under a 128-bit key. */
uint64_t
sip_hash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v[4], m, b = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	v[0] = key[0] ^ 0x736f6d6570736575ULL;
	v[1] = key[1] ^ 0x646f72616e646f6dULL;
	v[2] = key[0] ^ 0x6c7967656e657261ULL;
	v[3] = key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = sip_load(p + i);
		v[3] ^= m;
		sip_round(v);
		v[0] ^= m;
	}
	for (i = 0; i < tail; i++)
		b |= (uint64_t)p[len - tail + i] << (8 * i);
	v[3] ^= b;
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
