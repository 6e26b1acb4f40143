/*
 * xmalloc: allocation that cannot fail. Running out of memory is not an error
 * sprig tries to recover from; it aborts with a message, as tmux does.
 */
#ifndef SPRIG_XMALLOC_H
#define SPRIG_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
