/*
 * check_host.h - host findings of `tunrelay check` that do not depend on
 * the role: the process's capabilities and groups, the control and metrics
 * sockets run will bind, and whether an instance of a role already runs.
 */
#ifndef TUNRELAY_CHECK_HOST_H
#define TUNRELAY_CHECK_HOST_H

#include <stdbool.h>

#include "conf/conf.h"

/* Whether this process holds a capability (effective set). */
bool check_host_cap(int bit);
/*
 * Whether an instance of a role ("front", "back") runs in this network
 * namespace (its one-instance lock, core/main.c, is taken).
 */
bool check_host_running(const char *role);
/*
 * Host problems that stop `tunrelay run` before it is ready and that no
 * other check finds (control_group, control socket, metrics address).
 * Returns the number of errors.
 */
int check_host_start(const struct conf *);

#endif
