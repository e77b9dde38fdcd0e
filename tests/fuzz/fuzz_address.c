/*
 * fuzz_address: RFC 5321 address syntax (address.h) as smtpd and lmtpd
 * check MAIL FROM and RCPT TO: what parses normalises, its canonical
 * local part parses again and unquotes to the same content.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "fuzz.h"
#include "xalloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *addr = (const char *) data;
	char *local = NULL, *domain = NULL, *error = NULL, *norm = NULL;
	char *content, *canon, *again, *copy;
	size_t user_len;

	fuzz_init();
	if (address_parse(addr, size, &local, &domain, &error) == 0) {
		if (strlen(local) + 1 + strlen(domain) > 2 * ADDRESS_MAX + 2)
			abort();
		content = address_local_unquote(local);
		canon = address_local_canonical(content);
		if (strcmp(canon, local) != 0)
			abort();
		again = address_local_unquote(canon);
		if (strcmp(again, content) != 0)
			abort();
		if (address_split_delimiter(content, "+-", &user_len) == 1 &&
		    (user_len == 0 || user_len >= strlen(content)))
			abort();
		if (address_normalize(addr, size, 0, &norm, &error) != 0)
			abort();
		/* The normal form is an address too, and its own normal form. */
		copy = norm;
		norm = NULL;
		if (address_normalize(copy, strlen(copy), 0, &norm,
		    &error) != 0 || strcmp(copy, norm) != 0)
			abort();
		free(copy);
		free(again);
		free(canon);
		free(content);
	} else if (error == NULL) {
		abort();
	}
	free(error);
	error = NULL;
	(void) address_domain_check(addr, size, 1, &error);
	free(error);
	error = NULL;
	(void) address_is_dot_string(addr, size);
	free(norm);
	free(local);
	free(domain);
	return 0;
}
