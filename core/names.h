/*
 * names: what a sprite (or template, image) may be called. A name is a DNS
 * label, so it can become a hostname and a path component safely.
 */
#ifndef SPRIG_NAMES_H
#define SPRIG_NAMES_H

#define NAME_MAX_LEN	63

/* Returns 0 if @name is 1-63 of [a-z0-9-], not starting or ending with '-';
 * else -EINVAL with *cause saying what is wrong (caller frees). */
int name_check(const char *name, char **cause);

#endif
