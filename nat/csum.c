/*
 * csum.c - Internet checksum helpers (RFC 1071, RFC 1624 updates).
 */
#include "nat/nat_int.h"

/* Read a big-endian 16-bit value. */
uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Write a big-endian 16-bit value. */
void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Read a big-endian 32-bit value. */
uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Fold a sum to 16 bits without complementing it. */
uint16_t
csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Add len bytes of big-endian words to sum; an odd last byte is padded. */
uint32_t
csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	while (len >= 2) {
		s += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* Add the difference of replacing old by new (len even) to acc. */
uint32_t
csum_diff(uint32_t acc, const void *old, const void *new, size_t len)
{
	const uint8_t *o = old, *n = new;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc = csum_diff16(acc, rd16(o + i), rd16(n + i));
	return acc;
}

/* Add the difference of replacing one 16-bit word to acc. */
uint32_t
csum_diff16(uint32_t acc, uint16_t old, uint16_t new)
{
	/* ~old + new, kept folded so the accumulator never overflows */
	return csum_fold(acc + (uint16_t)~old + new);
}

/*
 * Apply an accumulated difference to the checksum field at p. A complete
 * checksum gets the RFC 1624 update HC' = ~(~HC + ~m + m'); a partial one
 * (virtio NEEDS_CSUM: the non-complemented pseudo-header sum) gets the plain
 * sum.
 */
void
csum_apply(uint8_t *p, uint32_t diff, bool partial)
{
	uint16_t hc = rd16(p);

	if (partial)
		wr16(p, csum_fold((uint32_t)hc + diff));
	else
		wr16(p, (uint16_t)~csum_fold((uint16_t)~hc + diff));
}

/* The Internet checksum of len bytes, in host order; see nat.h. */
uint16_t
nat_checksum(const void *data, size_t len)
{
	return (uint16_t)~csum_fold(csum_add(0, data, len));
}
