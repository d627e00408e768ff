/*
 * fuzz_parsers.h - the harnesses of the parsers that read outside input
 * other than packets: the configuration file (conf/) and the kernel's
 * netlink replies (tun/nl.c). Like the engine's harnesses they export a
 * plain entry point for tests/fuzz/replay under FUZZ_REPLAY.
 */
#ifndef TUNRELAY_FUZZ_PARSERS_H
#define TUNRELAY_FUZZ_PARSERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int fuzz_conf_one(const uint8_t *, size_t);
int fuzz_nl_one(const uint8_t *, size_t);

#define FZP_OOPS(...) do {						\
	fprintf(stderr, "fuzz oracle: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

#endif
