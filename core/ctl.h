/*
 * ctl.h - the control socket: a Unix stream socket that answers "flows" and
 * "stats" for `tunrelay flows` and `tunrelay stats`.
 */
#ifndef TUNRELAY_CTL_H
#define TUNRELAY_CTL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "nat/errlen.h"

#define CTL_TIMEOUT 10		/* seconds for a client to ask and read */

struct front;
struct loop_stats;
struct sockaddr_un;
struct stats_snap;

#define CTL_MAX_CLIENTS 16
#define CTL_LINE_MAX 512	/* longest command line a client may send */

#define CTL_CHUNK 512		/* flows written per output drain */

struct ctl {
	int fd;
	long long started;	/* CLOCK_MONOTONIC seconds at listen */
	unsigned long long started_usec;	/* the same in us: one value per start */
	const char *role;	/* "front" or "back" */
	const char *conf_path;
	char path[108];
	gid_t gid;
	bool has_gid;
	struct event *ev;
	struct event_base *base;
	struct front *front;
	const struct loop_stats *ls;
	unsigned int nclients;
	/* the snapshot `stats` prints; NULL: engine and loop counters only */
	void (*fill)(struct stats_snap *, void *);
	void *fill_arg;
	/* a role without flows (the back half, front NULL): its stats text */
	void (*text)(struct evbuffer *, void *);
	void *text_arg;
	/* front NULL: more of `status` (lines, or JSON members after a ',') */
	void (*status)(struct evbuffer *, bool json, void *);
	void *status_arg;
};

/*
 * Listen on path (mode 0600, or 0660 for group); replaces a stale socket.
 * Answers "stats" and "flows" for the front, streaming long flow lists.
 * With front NULL, set text after listening: "stats" prints what it writes.
 */
int ctl_listen(struct ctl *, struct event_base *, const char *path,
    const char *group, struct front *, const struct loop_stats *,
    char err[ERRLEN]);
void ctl_close(struct ctl *);
/* Fill a Unix socket address; -1 when the path does not fit. */
int ctl_addr(struct sockaddr_un *, const char *path, char *err);
/* The pid of the process that listens on the socket at path; -1 if none. */
int ctl_peer_pid(const char *path, pid_t *pid, char err[ERRLEN]);
/* Client side: send cmd to the socket at path, copy the answer to out. */
int ctl_request(const char *path, const char *cmd, FILE *out,
    char err[ERRLEN]);

#endif
