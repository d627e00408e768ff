/*
 * daemon.h - what the front and the back do alike as long-running
 * daemons on a libevent loop: SIGTERM/SIGINT stop the loop, SIGHUP reloads
 * (told to the service manager as RELOADING=1 ... READY=1), SIGUSR2 asks
 * for a restart into the binary again (core/reexec.h) and the service
 * manager's watchdog is fed at half its interval.
 */
#ifndef TUNRELAY_DAEMON_H
#define TUNRELAY_DAEMON_H

#include <stdbool.h>

#include <event2/event.h>

#define DAEMON_NSIG 4

struct daemon {
	struct event_base *base;
	struct event *sig[DAEMON_NSIG];
	struct event *watchdog;
	void (*reload)(void *);	/* SIGHUP: read the config again */
	void *arg;
	const char *kept;	/* what a restart keeps, for the log */
	bool restart;		/* SIGUSR2 broke the loop: execute the binary */
};

/*
 * Handle the signals and feed the watchdog on base: reload(arg) on SIGHUP,
 * "SIGUSR2: restarting, KEPT" on a restart. -1 when libevent fails (events
 * made so far are freed by daemon_free).
 */
int daemon_start(struct daemon *, struct event_base *, void (*reload)(void *),
    void *arg, const char *kept);
/* Free the events (a zeroed daemon is fine). */
void daemon_free(struct daemon *);
/* Tell the service manager a reload or restart begins (RELOADING=1). */
void daemon_reloading(void);

#endif
