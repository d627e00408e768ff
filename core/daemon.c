/*
 * daemon.c - signals and the service manager's watchdog, shared by the front
 * (core/loop.c) and the back (core/back.c); see daemon.h.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/daemon.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/reexec.h"

/* RELOADING=1 with the monotonic time, as systemd's notify-reload wants. */
void
daemon_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

/* SIGUSR2: break the loop for a restart when the binary can be run. */
static void
daemon_restart(struct daemon *d)
{
	char err[ERRLEN];

	if (reexec_ready(err) == -1) {
		log_warnx("SIGUSR2: cannot restart (%s); still running", err);
		return;
	}
	log_info("SIGUSR2: restarting, %s", d->kept);
	daemon_reloading();
	d->restart = true;
	event_base_loopbreak(d->base);
}

/* Signals: TERM/INT stop the loop, HUP reloads, USR2 restarts. */
static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		daemon_reloading();
		d->reload(d->arg);
		notify_send("READY=1");
		return;
	}
	if (sig == SIGUSR2) {
		daemon_restart(d);
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(d->base);
}

/* Tell the service manager we are alive. */
static void
daemon_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

/* Signal events, and the watchdog timer when the service manager wants one. */
int
daemon_start(struct daemon *d, struct event_base *base,
    void (*reload)(void *), void *arg, const char *kept)
{
	static const int sigs[DAEMON_NSIG] = { SIGTERM, SIGINT, SIGHUP,
	    SIGUSR2 };
	unsigned long long usec = notify_watchdog_usec();
	struct timeval wd;
	int i;

	memset(d, 0, sizeof(*d));
	d->base = base;
	d->reload = reload;
	d->arg = arg;
	d->kept = kept;
	for (i = 0; i < DAEMON_NSIG; i++) {
		d->sig[i] = evsignal_new(base, sigs[i], daemon_signal, d);
		if (d->sig[i] == NULL || evsignal_add(d->sig[i], NULL) == -1)
			return -1;
	}
	if (usec == 0)
		return 0;
	wd.tv_sec = (time_t)(usec / 2000000);
	wd.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	d->watchdog = event_new(base, -1, EV_PERSIST, daemon_watchdog, d);
	if (d->watchdog == NULL || event_add(d->watchdog, &wd) == -1)
		return -1;
	log_info("watchdog every %llu ms", usec / 2000);
	return 0;
}

/* Free the signal and watchdog events. */
void
daemon_free(struct daemon *d)
{
	int i;

	for (i = 0; i < DAEMON_NSIG; i++)
		if (d->sig[i] != NULL)
			event_free(d->sig[i]);
	if (d->watchdog != NULL)
		event_free(d->watchdog);
	memset(d->sig, 0, sizeof(d->sig));
	d->watchdog = NULL;
}
