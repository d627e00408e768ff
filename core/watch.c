/*
 * watch.c - link and address events of the front's interfaces (watch.h).
 * Events are only a hint: after a short quiet time the state is read again
 * and compared with what the running front was built from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "core/log.h"
#include "core/watch.h"

/* Whether the public interface's global addresses differ from the front's. */
static bool
watch_addrs_changed(struct front *f, int ifindex)
{
	struct front_host *h = &f->host;
	struct nl_ifaddr *a = NULL;
	size_t n = 0, i, j, global = 0;
	char e[NL_ERRLEN];
	bool changed = false;

	if (nl_addr_list(&f->nl, ifindex, 0, &a, &n, e) == -1)
		return false;
	for (i = 0; i < n && !changed; i++) {
		if (a[i].scope != RT_SCOPE_UNIVERSE)
			continue;
		global++;
		for (j = 0; j < h->npub_all; j++)
			if (memcmp(h->pub_all[j].b, a[i].addr,
			    a[i].family == AF_INET ? 4 : 16) == 0)
				break;
		changed = j == h->npub_all;
	}
	free(a);
	return changed || global != h->npub_all;
}

/* The tunnel interface: gone, back, or changed. Returns true to re-read. */
static bool
watch_tunnel(struct watch *w)
{
	struct front *f = w->front;
	const char *name = f->conf.front.tunnel_interface;
	struct nl_link l;
	char e[NL_ERRLEN];

	if (name == NULL)
		return false;
	if (nl_link_get(&f->nl, name, 0, &l, e) == -1) {
		if (!w->tun_gone)
			log_warnx("tunnel_interface %s is gone: nothing reaches "
			    "the backend until it is back; still relaying the "
			    "rest", name);
		w->tun_gone = true;
		return false;
	}
	if (w->tun_gone) {
		log_warnx("tunnel_interface %s is back (index %d): re-reading "
		    "the host", name, l.ifindex);
		w->tun_gone = false;
		return true;
	}
	if (l.ifindex != f->host.tun_ifindex || l.mtu != f->host.tun_mtu) {
		log_info("tunnel_interface %s changed (index %d, mtu %u): "
		    "re-reading the host", name, l.ifindex, l.mtu);
		return true;
	}
	return false;
}

/* The public interface: gone, back, or new addresses. True to re-read. */
static bool
watch_public(struct watch *w)
{
	struct front *f = w->front;
	const char *name = f->conf.front.public_interface;
	struct nl_link l;
	char e[NL_ERRLEN];

	if (nl_link_get(&f->nl, name, 0, &l, e) == -1) {
		if (!w->pub_gone)
			log_warnx("public_interface %s is gone: no client "
			    "reaches the relay until it is back", name);
		w->pub_gone = true;
		return false;
	}
	if (w->pub_gone || l.ifindex != f->host.pub_ifindex) {
		log_warnx("public_interface %s is back (index %d): re-reading "
		    "the host", name, l.ifindex);
		w->pub_gone = false;
		return true;
	}
	if (watch_addrs_changed(f, l.ifindex)) {
		log_warnx("public_interface %s: its addresses changed; "
		    "re-reading the host", name);
		return true;
	}
	return false;
}

/* After the quiet time: compare and re-read when something changed. */
static void
watch_check(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	bool t, p;

	(void)fd;
	(void)what;
	t = watch_tunnel(w);
	p = watch_public(w);
	if (t || p)
		w->reread(w->arg);
}

/* Events arrived: drain them and check after a quiet time. */
static void
watch_event(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	struct timeval tv = { 0, WATCH_DEBOUNCE_MS * 1000 };
	char buf[8192];
	ssize_t n;

	(void)what;
	/* ENOBUFS: events were lost; the check reads the state anyway */
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0 || (n == -1 && errno == ENOBUFS));
	if (!evtimer_pending(w->debounce, NULL))
		evtimer_add(w->debounce, &tv);
}

/* Subscribe to link and address events. */
int
watch_open(struct watch *w, struct event_base *base, struct front *f,
    void (*reread)(void *), void *arg, char err[WATCH_ERRLEN])
{
	static const int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
	    RTNLGRP_IPV6_IFADDR };
	size_t i;
	int g;

	memset(w, 0, sizeof(*w));
	w->front = f;
	w->reread = reread;
	w->arg = arg;
	w->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (w->sock == NULL || mnl_socket_bind(w->sock, 0,
	    MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		g = groups[i];
		/* IPv6 may be missing from the kernel: its group is optional */
		if (mnl_socket_setsockopt(w->sock, NETLINK_ADD_MEMBERSHIP, &g,
		    sizeof(g)) == -1 && g != RTNLGRP_IPV6_IFADDR)
			goto fail;
	}
	w->ev = event_new(base, mnl_socket_get_fd(w->sock),
	    EV_READ | EV_PERSIST, watch_event, w);
	w->debounce = evtimer_new(base, watch_check, w);
	if (w->ev == NULL || w->debounce == NULL ||
	    event_add(w->ev, NULL) == -1) {
		snprintf(err, WATCH_ERRLEN, "cannot watch rtnetlink events");
		watch_close(w);
		return -1;
	}
	return 0;
fail:
	snprintf(err, WATCH_ERRLEN, "rtnetlink events: %s", strerror(errno));
	watch_close(w);
	return -1;
}

/* Stop watching. */
void
watch_close(struct watch *w)
{
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->debounce != NULL)
		event_free(w->debounce);
	if (w->sock != NULL)
		mnl_socket_close(w->sock);
	w->ev = w->debounce = NULL;
	w->sock = NULL;
}
