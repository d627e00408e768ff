/*
 * back_slot.h - which number each back tunnel has. Tunnel number n has the
 * routing table BACK_TABLE + n and the connection mark BACK_MARK + n
 * (core/back.h). A number stays with its tunnel for as long as the tunnel
 * is in the file: connections opened through it carry its mark in
 * conntrack, and a tunnel that changed number would send their replies
 * through another table. Pure: no system calls, no globals.
 */
#ifndef TUNRELAY_BACK_SLOT_H
#define TUNRELAY_BACK_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

#define BACK_SLOT_NONE 0xff	/* no number (yet) */

/* A number in use before: by a section, or found in the kernel. */
struct back_slot_prev {
	const char *name;	/* the section ("back", "back.b"); NULL: found
				   in the kernel, known by its interface only */
	const char *ifname;	/* its tunnel_interface */
	uint8_t slot;		/* its number, < nslots */
};

/*
 * The number of each of the n tunnels t into slot[]: a tunnel keeps the
 * number of the previous tunnel with its section name and interface; else
 * it takes the number of a previous tunnel with its interface that no
 * tunnel kept (a section renamed, or a number found in the kernel); else
 * the lowest number free. n must be at most nslots (at most 255).
 */
void back_slot_assign(const struct back_slot_prev *prev, size_t nprev,
    const struct conf_back_tunnel *t, size_t n, size_t nslots,
    uint8_t *slot);

#endif
