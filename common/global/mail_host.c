/* mail_host: a mailbox's mail host, one or several store hosts. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mail_host.h"
#include "mail_params.h"
#include "params.h"
#include "xalloc.h"

/* Compare two host names, an address in brackets equal to the bare one. */
static int
mail_host_same(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);

	if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
		a++;
		alen -= 2;
	}
	if (blen >= 2 && b[0] == '[' && b[blen - 1] == ']') {
		b++;
		blen -= 2;
	}
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

static int
mail_host_entry_is_local(const char *entry)
{
	char **hosts;
	int count, i, found = 0;

	hosts = params_list_split(var_local_mail_hosts, &count);
	for (i = 0; i < count && !found; i++)
		found = mail_host_same(hosts[i], entry);
	params_list_free(hosts);
	return found;
}

int
mail_host_is_local(const char *mail_host)
{
	char **entries;
	int count, i, found = 0;

	if (mail_host == NULL || *mail_host == '\0')
		return 1;
	entries = params_list_split(mail_host, &count);
	for (i = 0; i < count && !found; i++)
		found = mail_host_entry_is_local(entries[i]);
	params_list_free(entries);
	return found || count == 0;
}

/* One entry's next hop, appended to out. */
static void
mail_host_append_nexthop(struct buf *out, const char *entry)
{
	const char *colon = strchr(entry, ':');

	if (mail_host_entry_is_local(entry))
		(void) buf_append_str(out, var_lmtp_local_nexthop);
	else if (strncmp(entry, "unix:", 5) == 0)
		(void) buf_append_str(out, entry);
	else if (entry[0] == '[' && strstr(entry, "]:") != NULL)
		(void) buf_append_str(out, entry);	/* [v6]:port */
	else if (entry[0] == '[')
		(void) buf_printf(out, "%s:%lld", entry, var_lmtp_port);
	else if (colon != NULL && strchr(colon + 1, ':') != NULL)
		(void) buf_printf(out, "[%s]:%lld", entry, var_lmtp_port);
	else if (colon != NULL)
		(void) buf_append_str(out, entry);	/* host:port */
	else
		(void) buf_printf(out, "%s:%lld", entry, var_lmtp_port);
}

char *
mail_host_lmtp_nexthops(const char *mail_host)
{
	struct buf *out;
	char **entries, *result;
	int count, i;

	if (mail_host == NULL || *mail_host == '\0')
		return xstrdup(var_lmtp_local_nexthop);
	entries = params_list_split(mail_host, &count);
	if (count == 0) {
		params_list_free(entries);
		return xstrdup(var_lmtp_local_nexthop);
	}
	out = buf_new(BUF_DEFAULT_CAP);
	for (i = 0; i < count; i++) {
		if (i > 0)
			(void) buf_append_str(out, ",");
		mail_host_append_nexthop(out, entries[i]);
	}
	params_list_free(entries);
	result = xstrdup(buf_cstr(out));
	buf_free(&out);
	return result;
}
