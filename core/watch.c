/*
 * watch.c - kernel change events on the event loop, debounced (watch.h):
 * the feed every watcher uses, and the front's watch of its interfaces.
 * Events are only a hint: after a short quiet time the state is read again
 * and compared with what the running front was built from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "core/front.h"
#include "core/log.h"
#include "core/watch.h"
#include "tun/nl_watch.h"

/* Whether the public interface's global addresses differ from the front's. */
static bool
watch_addrs_changed(struct front *f, int ifindex)
{
	struct front_host *h = &f->host;
	struct nl_ifaddr *a = NULL;
	size_t n = 0, i, j, global = 0;
	char e[ERRLEN];
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
	char e[ERRLEN];

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
	char e[ERRLEN];

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

/* Events arrived: drain them and arm the timer unless it is pending. */
static void
watch_feed_event(evutil_socket_t fd, short what, void *arg)
{
	struct watch_feed *wf = arg;
	struct timeval tv = { wf->ms / 1000, (wf->ms % 1000) * 1000 };

	(void)fd;
	(void)what;
	if (nl_watch_drain(wf->sock) && !evtimer_pending(wf->timer, NULL))
		evtimer_add(wf->timer, &tv);
}

/* Put an event socket on the loop, feeding a debounce timer. */
int
watch_feed_open(struct watch_feed *wf, struct event_base *base,
    struct mnl_socket *sock, struct event *timer, int ms)
{
	memset(wf, 0, sizeof(*wf));
	wf->sock = sock;
	wf->timer = timer;
	wf->ms = ms;
	wf->ev = event_new(base, nl_watch_fd(sock), EV_READ | EV_PERSIST,
	    watch_feed_event, wf);
	if (wf->ev == NULL || event_add(wf->ev, NULL) == -1) {
		watch_feed_close(wf);
		return -1;
	}
	return 0;
}

/* Take an event socket off the loop and close it. */
void
watch_feed_close(struct watch_feed *wf)
{
	if (wf->ev != NULL)
		event_free(wf->ev);
	nl_watch_close(wf->sock);
	wf->ev = NULL;
	wf->sock = NULL;
}

/* Subscribe to link and address events. */
int
watch_open(struct watch *w, struct event_base *base, struct front *f,
    void (*reread)(void *), void *arg, char err[ERRLEN])
{
	struct mnl_socket *s;

	memset(w, 0, sizeof(*w));
	w->front = f;
	w->reread = reread;
	w->arg = arg;
	if ((s = nl_watch_open(NL_WATCH_LINK | NL_WATCH_ADDR, err)) == NULL)
		return -1;
	w->debounce = evtimer_new(base, watch_check, w);
	if (w->debounce == NULL) {
		nl_watch_close(s);
		snprintf(err, ERRLEN, "cannot watch rtnetlink events");
		return -1;
	}
	if (watch_feed_open(&w->feed, base, s, w->debounce,
	    WATCH_DEBOUNCE_MS) == -1) {
		snprintf(err, ERRLEN, "cannot watch rtnetlink events");
		watch_close(w);
		return -1;
	}
	return 0;
}

/* Stop watching. */
void
watch_close(struct watch *w)
{
	watch_feed_close(&w->feed);
	if (w->debounce != NULL)
		event_free(w->debounce);
	w->debounce = NULL;
}
