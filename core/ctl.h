/*
 * ctl.h - the control socket: a Unix stream socket that answers "flows" and
 * "stats" for `tunrelay flows` and `tunrelay stats`.
 */
#ifndef TUNRELAY_CTL_H
#define TUNRELAY_CTL_H

#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "core/front.h"

#define CTL_ERRLEN 512

struct loop_stats;

typedef void (*ctl_fn)(void *arg, const char *cmd, struct evbuffer *out);

struct ctl {
	int fd;
	char path[108];
	gid_t gid;
	bool has_gid;
	struct event *ev;
	struct event_base *base;
	ctl_fn fn;
	void *arg;
};

/* Listen on path (mode 0600, or 0660 for group); replaces a stale socket. */
int ctl_listen(struct ctl *, struct event_base *, const char *path,
    const char *group, ctl_fn, void *, char err[CTL_ERRLEN]);
void ctl_close(struct ctl *);
/* Write the answer to cmd ("flows", "stats") for a running front. */
void ctl_report(const char *cmd, const struct front *,
    const struct loop_stats *, uint64_t now, struct evbuffer *);
/* Client side: send cmd to the socket at path, copy the answer to out. */
int ctl_request(const char *path, const char *cmd, FILE *out,
    char err[CTL_ERRLEN]);

#endif
