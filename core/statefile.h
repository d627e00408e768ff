/*
 * statefile.h - the front's state file: the engine's state region
 * (engine_state_attach: one region per shard) as a shared mapping of a file under /run/tunrelay, so
 * that full NAT and hairpin flows survive a SIGKILL and a restart.
 */
#ifndef TUNRELAY_STATEFILE_H
#define TUNRELAY_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"

struct engine;

struct statefile {
	char *path;			/* NULL: state_file = off */
	void *map;			/* this instance's region, or NULL */
	size_t len;
};

/*
 * Take over the flows a killed instance saved in path (logging how many, or
 * why the file was ignored), then write this engine's flows into a new file
 * put in its place. Never fatal: without a usable file the relay runs on,
 * saying its flows will not survive a restart. path NULL: nothing.
 */
void statefile_open(struct statefile *, const char *path, struct engine *,
    uint64_t now);
/* Write the header and records again (a reload changed nat_ports). */
void statefile_refresh(struct statefile *, struct engine *);
/* Unmap the region (after engine_destroy); remove the file when asked (clean exit). */
void statefile_close(struct statefile *, bool remove);
/* Remove a state file and its FILE.new (tunrelay cleanup); -1 with errno. */
int statefile_remove(const char *path);

#endif
