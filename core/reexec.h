/*
 * reexec.h - a restart that keeps connections: the running instance
 * executes its binary again (the one now installed at the same path) in the
 * same process, leaving its rules, routes and state file in place for the
 * new image to take over; the pid stays, so a service manager sees a reload.
 */
#ifndef TUNRELAY_REEXEC_H
#define TUNRELAY_REEXEC_H

#include <stdbool.h>

#define REEXEC_ERRLEN 256

/* Remember how this instance was started (before any chdir or fork). */
void reexec_init(const char *config, bool verbose);
/* Whether the binary can be executed again; err says why not. */
int reexec_ready(char err[REEXEC_ERRLEN]);
/* Execute the binary again; returns only on failure, err filled. */
int reexec_exec(char err[REEXEC_ERRLEN]);

#endif
