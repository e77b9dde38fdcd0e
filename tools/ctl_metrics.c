/* ctl_metrics: ispmailctl metrics, the Prometheus text metricsd serves. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "ctl.h"
#include "mail_params.h"
#include "metrics_text.h"

int
ctl_metrics(int argc, char **argv)
{
	struct buf *out;
	char *error = NULL;
	int rc = 0;

	(void) argv;
	if (argc != 1) {
		ctl_eprintf("usage: ispmailctl metrics\n");
		return 2;
	}
	out = buf_new(METRICS_TEXT_MAX);
	if (metrics_text_render(out, var_queue_directory, time(NULL),
	    &error) < 0) {
		ctl_eprintf("ispmailctl: metrics: %s\n", error);
		free(error);
		rc = 1;
	} else {
		/* Checked printable when read (metrics_text.h): as is. */
		(void) fwrite(buf_cstr(out), 1, buf_len(out), stdout);
	}
	buf_free(&out);
	return rc;
}
