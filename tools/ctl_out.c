/* ctl_out: every line ispmailctl prints, with untrusted text escaped. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "buf.h"
#include "ctl.h"
#include "printable.h"

/*
 * What one call may print: queue files, map entries and remote replies
 * are bounded far below this by their own limits.
 */
#define CTL_OUT_CAP (4 * 1024 * 1024)

static void
ctl_vout(FILE *fp, const char *fmt, va_list ap)
{
	struct buf *out = buf_new(CTL_OUT_CAP);

	if (printable_vprintf(out, fmt, ap) < 0)
		fputs("[output longer than 4 MiB left out]\n", fp);
	else
		fwrite(buf_cstr(out), 1, buf_len(out), fp);
	buf_free(&out);
}

void
ctl_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vout(stdout, fmt, ap);
	va_end(ap);
}

void
ctl_eprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vout(stderr, fmt, ap);
	va_end(ap);
}
