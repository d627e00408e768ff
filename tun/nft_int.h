/*
 * nft_int.h - what tun/nft.c and tun/nft_rules.c share (not for users of
 * tun/): the batch being built and the messages that go into it.
 */
#ifndef TUNRELAY_NFT_INT_H
#define TUNRELAY_NFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun/nft.h"

struct mnl_nlmsg_batch;
struct nlmsghdr;

/* A batch being built, with the socket it goes to. */
struct nft_batch {
	struct mnl_socket *sock;
	struct mnl_nlmsg_batch *b;
	char *buf;
	uint32_t seq;
	unsigned int nmsg;	/* messages that expect an answer */
	char *err;
};

/* The next message of a batch, for our table. */
struct nlmsghdr *nft_batch_hdr(struct nft_batch *, uint16_t type,
    uint16_t flags);
/* Add tunnel number n's map of a family to the batch. */
int nft_map_msg(struct nft_batch *, const char *name, uint32_t id, bool v6);
/* The name and set id of tunnel n's map of a family ("udp4", "udp6_2"). */
uint32_t nft_map_name(size_t n, bool v6, char *name, size_t len);
/* Add every tunnel's maps and rules (nft_rules.c). */
int nft_rules(struct nft_batch *, const struct nft_back *);

#endif
