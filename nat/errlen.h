/*
 * errlen.h - the one size of an error message buffer in tunrelay, NUL
 * included. Every layer's functions that fail fill a caller's buffer of
 * this size, so a message passes from one layer to the next unchanged.
 */
#ifndef TUNRELAY_ERRLEN_H
#define TUNRELAY_ERRLEN_H

#define ERRLEN 512

#endif
