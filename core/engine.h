/*
 * engine.h - the front's NAT engine as shards: one engine (struct nat) per
 * TUN queue, each behind its own mutex, so that the queues translate in
 * parallel. nat_shard() names the shard of every packet, the same for both
 * directions of a flow; a queue's thread locks that shard only (its own,
 * when the kernel's steering put the packet on the right queue). Everything
 * that is not the packet path (reload, control socket, health checks,
 * counters) takes every shard's lock (engine_lock_all) and sees the shards
 * as one engine through the functions below.
 */
#ifndef TUNRELAY_ENGINE_H
#define TUNRELAY_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/errlen.h"
#include "nat/nat.h"

#define ENGINE_CACHELINE 64

/* One shard: its engine and the mutex the packet path takes. */
struct engine_shard {
	_Alignas(ENGINE_CACHELINE) pthread_mutex_t lock;
	struct nat *nat;
};

/* A flow listing across the shards: one engine cursor at a time. */
struct engine_cursor {
	bool busy;
	unsigned int shard;
	int cur;			/* the shard's cursor, -1 none */
};

struct engine {
	struct engine_shard *sh;	/* n of them */
	unsigned int n;
	pthread_mutex_t share;		/* the shards' shared tables: a leaf */
	struct nat_share_ops ops;
	struct engine_cursor cur[NAT_CURSORS];
	uint32_t max_flows;		/* as configured (the shards share it) */
	char why[ERRLEN];		/* why one engine when more were asked */
};

/*
 * Make want shards (one when the settings cannot be sharded: e->why says
 * why); NULL with a message on bad settings or no memory.
 */
struct engine *engine_create(const struct nat_settings *, unsigned int want,
    char err[ERRLEN]);
/* Free the shards (NULL is fine). */
void engine_destroy(struct engine *);
/* The number of shards. */
unsigned int engine_shards(const struct engine *);

/* Take every shard's lock, in order (reload, control, counters). */
void engine_lock_all(struct engine *);
/* Release what engine_lock_all took. */
void engine_unlock_all(struct engine *);

/*
 * Lock the shard that handles the packet data[0..len) read from side, trying
 * home first; returns the shard, locked. *crossed is set when it is not home,
 * *waited when a lock was taken by another thread.
 */
unsigned int engine_enter(struct engine *, unsigned int home,
    const uint8_t *data, size_t len, enum nat_side, bool *crossed,
    bool *waited);
/* Lock the queue home's own shard; returns it. */
unsigned int engine_lock(struct engine *, unsigned int home);
/* Release a shard engine_enter or engine_lock locked. */
void engine_leave(struct engine *, unsigned int);
/* The engine of shard s (locked by the caller). */
struct nat *engine_nat(const struct engine *, unsigned int s);

/*
 * Replace rules and timeouts in every shard (all locked); on error nothing
 * changes: shards already changed get old again. Settings that can no
 * longer be sharded are refused.
 */
int engine_reconfigure(struct engine *, const struct nat_settings *set,
    const struct nat_settings *old, char err[ERRLEN]);
/* Expire idle flows, each shard under its own lock; how many went. */
size_t engine_sweep(struct engine *, uint64_t now, size_t budget);

/* The functions below see the shards as one engine (all locked). */
void engine_get_stats(const struct engine *, struct nat_stats *);
size_t engine_memory(const struct engine *);
size_t engine_rule_stats(const struct engine *, struct nat_rule_stats *,
    size_t max);
size_t engine_backend_stats(const struct engine *, struct nat_backend_stats *,
    size_t max);
int engine_backend_set(struct engine *, uint32_t id, bool up);
size_t engine_flows_delete(struct engine *, uint64_t now,
    int (*match)(const struct nat_flow_info *, void *), void *arg);
void engine_set_flow_hook(struct engine *, nat_flow_hook *, void *);
int engine_cursor_open(struct engine *);
size_t engine_cursor_next(struct engine *, int, uint64_t now, size_t max,
    int (*fn)(const struct nat_flow_info *, void *), void *arg);
void engine_cursor_close(struct engine *, int);

/* The state region: one nat region per shard, back to back. */
size_t engine_state_size(const struct engine *);
int engine_state_attach(struct engine *, void *region, size_t len,
    char err[ERRLEN]);
int engine_state_adopt(struct engine *, const void *old, size_t len,
    uint64_t now, struct nat_state_report *, char err[ERRLEN]);

#endif
