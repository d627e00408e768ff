/*
 * nl_watch.c - rtnetlink change events (nl_watch.h): subscribe, drain,
 * close. Written once for the front's interface watch and the back's
 * reconcile.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "tun/nl_watch.h"

/* One rtnetlink group and the kind of change it carries. */
struct nl_watch_group {
	unsigned int what;	/* NL_WATCH_* */
	int group;		/* RTNLGRP_* */
	bool optional;		/* IPv6 may be missing from the kernel */
};

static const struct nl_watch_group nl_watch_groups[] = {
	{ NL_WATCH_LINK, RTNLGRP_LINK, false },
	{ NL_WATCH_ADDR, RTNLGRP_IPV4_IFADDR, false },
	{ NL_WATCH_ROUTE, RTNLGRP_IPV4_ROUTE, false },
	{ NL_WATCH_RULE, RTNLGRP_IPV4_RULE, false },
	{ NL_WATCH_ADDR, RTNLGRP_IPV6_IFADDR, true },
	{ NL_WATCH_ROUTE, RTNLGRP_IPV6_ROUTE, true },
	{ NL_WATCH_RULE, RTNLGRP_IPV6_RULE, true },
};

/* Open a non-blocking rtnetlink socket and join the groups asked for. */
struct mnl_socket *
nl_watch_open(unsigned int what, char err[ERRLEN])
{
	const struct nl_watch_group *g;
	struct mnl_socket *s;
	size_t i;
	int grp;

	s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s == NULL || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	for (i = 0; i < sizeof(nl_watch_groups) / sizeof(nl_watch_groups[0]);
	    i++) {
		g = &nl_watch_groups[i];
		if (!(g->what & what))
			continue;
		grp = g->group;
		if (mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &grp,
		    sizeof(grp)) == -1 && !g->optional)
			goto fail;
	}
	return s;
fail:
	snprintf(err, ERRLEN, "rtnetlink events: %s", strerror(errno));
	if (s != NULL)
		mnl_socket_close(s);
	return NULL;
}

/* The socket's descriptor. */
int
nl_watch_fd(struct mnl_socket *s)
{
	return mnl_socket_get_fd(s);
}

/* Read until the socket is empty; say whether anything was there. */
bool
nl_watch_drain(struct mnl_socket *s)
{
	char buf[8192];
	bool any = false;
	ssize_t n;

	/* ENOBUFS: events were lost; the caller reads the state anyway */
	for (;;) {
		n = recv(mnl_socket_get_fd(s), buf, sizeof(buf), 0);
		if (n > 0 || (n == -1 && errno == ENOBUFS))
			any = true;
		else
			break;
	}
	return any;
}

/* Close the socket. */
void
nl_watch_close(struct mnl_socket *s)
{
	if (s != NULL)
		mnl_socket_close(s);
}
