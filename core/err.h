/*
 * err.h - context for an error message: a callee fills the caller's buffer
 * (ERRLEN bytes), and the caller puts what it was doing before it.
 */
#ifndef TUNRELAY_ERR_H
#define TUNRELAY_ERR_H

#include "nat/errlen.h"

/*
 * Put "CONTEXT: " before the message in err, CONTEXT formatted from fmt;
 * the end of the message is cut when the whole does not fit.
 */
void err_prefix(char err[ERRLEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
