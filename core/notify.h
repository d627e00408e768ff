/*
 * notify.h - readiness and watchdog notifications for systemd (sd_notify
 * protocol), a no-op when not started by a service manager.
 */
#ifndef TUNRELAY_NOTIFY_H
#define TUNRELAY_NOTIFY_H

int notify_send(const char *state);
unsigned long long notify_watchdog_usec(void);

#endif
