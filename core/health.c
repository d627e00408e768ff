/*
 * health.c - health checks of the front's backends (see health.h).
 *
 * Each check opens its own non-blocking socket: a TCP connect (the check
 * passes when the handshake completes) or an ICMP echo (a ping socket, or
 * a raw socket where ping sockets are not allowed; it passes on the echo
 * reply). The front's own traffic to a backend leaves by the routing
 * table, and its answers reach the host before the relay's reply capture
 * (the front's "lookup local" rules come first on the tunnel side).
 */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/front.h"
#include "core/health.h"
#include "core/log.h"

#define HEALTH_WHYLEN	128

struct health_probe {
	struct health *h;
	uint32_t id;			/* the engine's backend id */
	struct conf_addr a;
	uint16_t port;
	struct conf_health hc;		/* a copy: a reload frees the config */
	bool up;
	uint32_t ok, bad;		/* passes and failures in a row */
	int fd;				/* the check in flight, or -1 */
	bool raw;			/* ICMP over a raw socket */
	uint16_t ident, seq;		/* of the echo in flight */
	struct event *tick, *io;
	char name[96];
};

/* A socket address for a probe's backend (port 0 for ICMP). */
static socklen_t
health_sockaddr(const struct health_probe *p, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	uint16_t port = p->hc.kind == CONF_CHECK_TCP ? p->port : 0;

	memset(ss, 0, sizeof(*ss));
	if (p->a.family == 4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, p->a.addr.b, 4);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, p->a.addr.b, 16);
	return sizeof(*s6);
}

/* Set a backend up or down in the engine, and say so. */
static void
health_set(struct health_probe *p, bool up, const char *why)
{
	struct front *f = p->h->front;

	p->up = up;
	front_lock(f);
	engine_backend_set(f->eng, p->id, up);
	front_unlock(f);
	if (up)
		log_info("backend %s is up (%u checks passed)", p->name, p->ok);
	else
		log_warnx("backend %s is down (%u checks failed, last: %s); new "
		    "flows go to the others", p->name, p->bad, why);
}

/* End the check in flight: count it, and change state at a threshold. */
static void
health_done(struct health_probe *p, bool ok, const char *why)
{
	if (p->io != NULL) {
		event_free(p->io);
		p->io = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (ok) {
		p->bad = 0;
		p->ok++;
		if (!p->up && p->ok >= p->hc.rise)
			health_set(p, true, NULL);
		return;
	}
	p->ok = 0;
	p->bad++;
	log_debug("backend %s: check failed: %s", p->name, why);
	if (p->up && p->bad >= p->hc.fall)
		health_set(p, false, why);
}

/* The internet checksum of len bytes. */
static uint16_t
health_csum(const uint8_t *b, size_t len)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Open an ICMP socket: a ping socket, else a raw one. */
static int
health_icmp_socket(struct health_probe *p)
{
	int af = p->a.family == 4 ? AF_INET : AF_INET6;
	int proto = p->a.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int fd;

	p->raw = false;
	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd >= 0)
		return fd;
	p->raw = true;
	return socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}

/* Send one echo request on p->fd (connected to the backend). */
static int
health_icmp_send(struct health_probe *p)
{
	uint8_t b[16];
	uint16_t c;

	memset(b, 0, sizeof(b));
	b[0] = p->a.family == 4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	p->seq = ++p->h->seq;
	b[4] = (uint8_t)(p->ident >> 8);
	b[5] = (uint8_t)p->ident;
	b[6] = (uint8_t)(p->seq >> 8);
	b[7] = (uint8_t)p->seq;
	memcpy(b + 8, "tunrelay", 8);
	/* ICMPv6 checksums are the kernel's (they cover the addresses) */
	if (p->a.family == 4) {
		c = health_csum(b, sizeof(b));
		b[2] = (uint8_t)(c >> 8);
		b[3] = (uint8_t)c;
	}
	return send(p->fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) ? 0 : -1;
}

/*
 * Whether a packet read from the ICMP socket is the reply to the echo in
 * flight (raw IPv4 sockets give the IP header too; a ping socket's
 * identifier is the kernel's, which delivers only its own replies).
 */
static bool
health_icmp_reply(const struct health_probe *p, const uint8_t *b, size_t n)
{
	size_t off = 0;

	if (p->raw && p->a.family == 4) {
		if (n < 20)
			return false;
		off = (size_t)(b[0] & 0x0f) * 4;
	}
	if (n < off + 8)
		return false;
	b += off;
	if (b[0] != (p->a.family == 4 ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY))
		return false;
	if (p->raw && (uint16_t)(b[4] << 8 | b[5]) != p->ident)
		return false;
	return (uint16_t)(b[6] << 8 | b[7]) == p->seq;
}

/* Readable ICMP socket, or the check's timeout. */
static void
health_icmp_io(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	uint8_t b[1500];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		health_done(p, false, "no echo reply");
		return;
	}
	while ((n = recv(fd, b, sizeof(b), 0)) >= 0)
		if (health_icmp_reply(p, b, (size_t)n)) {
			health_done(p, true, NULL);
			return;
		}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		health_done(p, false, strerror(errno));
}

/* Writable TCP socket (connected or refused), or the check's timeout. */
static void
health_tcp_io(evutil_socket_t fd, short what, void *arg)
{
	struct health_probe *p = arg;
	socklen_t len = sizeof(int);
	int e = 0;

	if (what & EV_TIMEOUT) {
		health_done(p, false, "connect timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	health_done(p, e == 0, e == 0 ? NULL : strerror(e));
}

/* Open the check's socket and send (connect, echo); -1 with errno. */
static int
health_send(struct health_probe *p)
{
	struct sockaddr_storage ss;
	socklen_t sl = health_sockaddr(p, &ss);

	if (p->hc.kind == CONF_CHECK_TCP) {
		p->fd = socket(p->a.family == 4 ? AF_INET : AF_INET6,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (p->fd < 0)
			return -1;
		if (connect(p->fd, (struct sockaddr *)&ss, sl) == -1 &&
		    errno != EINPROGRESS)
			return -1;
		return 0;
	}
	if ((p->fd = health_icmp_socket(p)) < 0 ||
	    connect(p->fd, (struct sockaddr *)&ss, sl) == -1)
		return -1;
	return health_icmp_send(p);
}

/* Why a check could not be sent (errno e), with the fix when it is ours. */
static const char *
health_why(const struct health_probe *p, int e)
{
	/* no socket at all: the host does not let the relay ping */
	if (p->hc.kind == CONF_CHECK_ICMP && p->fd < 0 &&
	    (e == EPERM || e == EACCES))
		return "cannot open an ICMP socket (fix: let the relay's group "
		    "use ping sockets, sysctl net.ipv4.ping_group_range, or "
		    "give it CAP_NET_RAW; or use check = tcp)";
	return strerror(e);
}

/* Start one check (ending one still in flight as a failure). */
static void
health_start(struct health_probe *p)
{
	struct timeval tv = { (time_t)p->hc.timeout, 0 };
	bool tcp = p->hc.kind == CONF_CHECK_TCP;

	if (p->fd >= 0)
		health_done(p, false, "no answer within the interval");
	if (health_send(p) == -1) {
		health_done(p, false, health_why(p, errno));
		return;
	}
	p->io = event_new(p->h->base, p->fd, tcp ? EV_WRITE : EV_READ |
	    EV_PERSIST, tcp ? health_tcp_io : health_icmp_io, p);
	if (p->io == NULL || event_add(p->io, &tv) == -1)
		health_done(p, false, "no memory for the check's event");
}

/* The interval timer of a probe. */
static void
health_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	health_start(arg);
}

/* (Re)arm a probe's interval timer. */
static void
health_arm(struct health_probe *p)
{
	struct timeval tv = { (time_t)p->hc.interval, 0 };

	if (p->tick == NULL)
		p->tick = event_new(p->h->base, -1, EV_PERSIST, health_tick, p);
	if (p->tick == NULL || event_add(p->tick, &tv) == -1)
		log_warnx("backend %s: cannot schedule its checks", p->name);
}

/* Free a probe and its events. */
static void
health_free(struct health_probe *p)
{
	if (p == NULL)
		return;
	if (p->io != NULL)
		event_free(p->io);
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

/*
 * Whether old probe p checks what c asks: the same backend of the same
 * forward, by name ("forward.web 10.22.22.1:80"), since ids follow the
 * place of the section in the config and a section inserted before it
 * moves them.
 */
static bool
health_same(const struct health_probe *p, const struct conf_check *c,
    const char *name)
{
	return strcmp(p->name, name) == 0 &&
	    p->port == c->port && p->hc.kind == c->health->kind &&
	    p->a.family == c->a.family &&
	    memcmp(&p->a.addr, &c->a.addr, sizeof(p->a.addr)) == 0;
}

/* The probe for check c: an old one taken out of old[], or a new one. */
static struct health_probe *
health_probe(struct health *h, struct health_probe **old, size_t nold,
    const struct conf_check *c)
{
	struct health_probe *p = NULL;
	char name[sizeof(p->name)];
	size_t i;

	conf_nat_backend_name(&h->front->conf, c->id, name, sizeof(name));
	for (i = 0; i < nold && p == NULL; i++)
		if (old[i] != NULL && health_same(old[i], c, name)) {
			p = old[i];
			old[i] = NULL;
		}
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return NULL;
		p->h = h;
		p->fd = -1;
		p->up = true;
		p->a = c->a;
		p->port = c->port;
		p->ident = (uint16_t)(getpid() ^ (c->id * 2654435761U >> 16));
	}
	p->id = c->id;
	p->hc = *c->health;
	memcpy(p->name, name, sizeof(p->name));
	return p;
}

/* The state the checks give backend id: up without checks. */
static bool
health_wanted(const struct health *h, uint32_t id)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->p[i]->id == id)
			return h->p[i]->up;
	return true;
}

/* Give every engine backend the state its checks say. */
static void
health_sync(struct health *h)
{
	struct front *f = h->front;
	struct nat_backend_stats *st;
	size_t n, i;
	bool up;

	front_lock(f);
	n = engine_backend_stats(f->eng, NULL, 0);
	if (n > 0 && (st = calloc(n, sizeof(*st))) != NULL) {
		engine_backend_stats(f->eng, st, n);
		for (i = 0; i < n; i++)
			if (st[i].up != (up = health_wanted(h, st[i].id)))
				engine_backend_set(f->eng, st[i].id, up);
		free(st);
	}
	front_unlock(f);
}

/* Check the backends of the front's config; see health.h. */
void
health_reload(struct health *h)
{
	struct health_probe **old = h->p, **np = NULL;
	struct conf_check *c = NULL;
	size_t nold = h->n, n, i, k = 0;

	n = conf_nat_checks(&h->front->conf, NULL, 0);
	if (n > 0 && ((c = calloc(n, sizeof(*c))) == NULL ||
	    (np = calloc(n, sizeof(*np))) == NULL)) {
		log_warnx("health checks: no memory; keeping the old ones");
		free(c);
		return;
	}
	conf_nat_checks(&h->front->conf, c, n);
	for (i = 0; i < n; i++) {
		if ((np[k] = health_probe(h, old, nold, &c[i])) == NULL) {
			log_warnx("backend %u: no memory for its checks",
			    c[i].id);
			continue;
		}
		health_arm(np[k]);
		if (np[k]->fd < 0 && np[k]->ok + np[k]->bad == 0)
			health_start(np[k]);	/* a new one: check it now */
		k++;
	}
	for (i = 0; i < nold; i++)
		health_free(old[i]);
	free(old);
	free(c);
	h->p = np;
	h->n = k;
	health_sync(h);
	if (k > 0)
		log_info("health checks: %zu backend%s", k, k == 1 ? "" : "s");
}

/* Start checking; see health.h. */
void
health_open(struct health *h, struct event_base *base, struct front *f)
{
	memset(h, 0, sizeof(*h));
	h->base = base;
	h->front = f;
	health_reload(h);
}

/* Stop every check. */
void
health_close(struct health *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		health_free(h->p[i]);
	free(h->p);
	memset(h, 0, sizeof(*h));
}
