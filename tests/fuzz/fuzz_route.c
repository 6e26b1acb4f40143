/*
 * fuzz_route: libFuzzer target for the request router (api/route.c). The
 * input is "METHOD URL": any method and path a client may send must map to
 * a route or to none, with the names it hands out whole strings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *url, *name = NULL, *ckpt = NULL;
	const char *what = NULL;
	int bad_method = 0;
	enum route r;

	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	url = strchr(in, ' ');
	if (url != NULL)
		*url++ = '\0';
	else
		url = in + size;	/* "" */
	r = route_match(url, in, &name, &ckpt, &bad_method, &what);
	/* What the router hands out is read as strings by its callers. */
	if (name != NULL && strlen(name) > size)
		abort();
	if (ckpt != NULL && strlen(ckpt) > size)
		abort();
	if (r == ROUTE_UNSUPPORTED && what == NULL)
		abort();
	free(name);
	free(ckpt);
	free(in);
	return 0;
}
