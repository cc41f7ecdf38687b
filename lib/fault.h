/*
 * pcrgate (library-internal): fault injection, for the power-cut tests only. A program sets a
 * hook when its test environment variable asks for one (pcrgate-agent's PCRGATE_AGENT_FAULT,
 * docs/agent.md); nothing else does. Not part of the installed library's interface: the agent,
 * the tools and the tests link the convenience libraries, which hold these symbols.
 *
 * The library's durable writers call pcrgate_fault_point() before each change they make: what
 * names it ("write FILE", "rename FILE", ...), tearable is 1 for a file's content. The hook cuts
 * power by killing the process (it does not return), returns 1 to tear the change, or 0 to let
 * it happen. The writer finishes a torn change with pcrgate_fault_tear().
 */
#ifndef PCRGATE_FAULT_H
#define PCRGATE_FAULT_H

#include <stddef.h>

typedef int (*pcrgate_fault_fn)(const char *what, int tearable);
void pcrgate_fault_set(pcrgate_fault_fn fn);
/* 0 without a hook; else what the hook returns (1: tear this change). */
int pcrgate_fault_point(const char *what, int tearable);
/* Writes the first n bytes of buf to fd (a torn write), fsyncs it and kills the process. */
void pcrgate_fault_tear(int fd, const void *buf, size_t n) __attribute__((noreturn));

#endif
