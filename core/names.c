/*
 * names: validation of sprite names.
 */
#include "names.h"

#include <errno.h>
#include <string.h>

#include "common/xmalloc.h"

int
name_check(const char *name, char **cause)
{
	size_t len;

	if (name == NULL || *name == '\0') {
		*cause = xstrdup("a sprite needs a name");
		return -EINVAL;
	}
	len = strlen(name);
	if (len > NAME_MAX_LEN) {
		*cause = xasprintf("name is %zu characters long; at most %d are allowed",
		    len, NAME_MAX_LEN);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			continue;
		if (c >= 'A' && c <= 'Z')
			*cause = xasprintf("invalid name \"%s\": use lower case letters", name);
		else
			*cause = xasprintf("invalid name \"%.64s\": only a-z, 0-9 and '-' "
			    "are allowed (it becomes a hostname)", name);
		return -EINVAL;
	}
	if (name[0] == '-' || name[len - 1] == '-') {
		*cause = xasprintf("invalid name \"%s\": it cannot start or end with '-'", name);
		return -EINVAL;
	}
	return 0;
}
