/*
 * csum_full.h - the Internet checksum (RFC 1071) computed over the whole
 * packet, for the unit tests' packet generator (tests/unit/pktgen.c), the
 * fuzz harnesses (tests/fuzz/fuzz_common.h) and the benchmarks' packet
 * builders (bench/). Header only; every function is static.
 *
 * It is kept apart from the engine's nat/csum.c on purpose: the engine only
 * updates checksums incrementally (RFC 1624), and the tests judge those
 * updates against this independent full recompute, so a mistake in the
 * engine's arithmetic cannot also be in the check that should catch it.
 */
#ifndef TUNRELAY_CSUM_FULL_H
#define TUNRELAY_CSUM_FULL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Ones' complement sum of len bytes as big-endian words, added to sum (an
 * odd last byte is padded; the result is not folded).
 */
static inline uint32_t
csum_full_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	/* end-around carry: the 32-bit result folds to the same 16 bits */
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

/* Fold a sum to 16 bits (not complemented). */
static inline uint16_t
csum_full_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Sum of the pseudo-header of the IP packet at ip (IPv4 or IPv6, by its
 * version; the caller checked its length): addresses, proto and l4len.
 */
static inline uint32_t
csum_full_pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t s;

	if (ip[0] >> 4 == 4)
		s = csum_full_sum(ip + 12, 8, 0);
	else
		s = csum_full_sum(ip + 8, 32, 0);
	return s + proto + (uint32_t)(l4len & 0xffff) + (uint32_t)(l4len >> 16);
}

#endif
