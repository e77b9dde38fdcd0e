/*
 * fuzz_qfile: the queue-file reader (qfile_read, ispmail-queue(5)) on
 * the input as a file in the queue, as qmgr, the delivery agents and
 * ispmailctl read it.  A file it accepts has its message inside the
 * file and recipients with valid states and unique indexes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "qfile.h"
#include "xalloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qfile *qf = NULL;
	char *path, *error = NULL;
	int damaged = -1;
	size_t i;

	fuzz_init();
	path = xasprintf("%s/qfile", fuzz_dir());
	fuzz_write_file(path, data, size);
	if (qfile_read(path, &qf, &damaged, &error) == 0) {
		if (qf->message_offset < 0 || qf->message_size < 0 ||
		    qf->message_offset + qf->message_size > qf->file_size ||
		    qf->file_size != (off_t) size || qf->sender == NULL)
			abort();
		for (i = 0; i < qf->rcpt_count; i++) {
			struct qfile_rcpt *r = &qf->rcpts[i];

			if (r->address == NULL || r->state_offset < 0 ||
			    r->state_offset >= (off_t) size ||
			    data[r->state_offset] != (uint8_t) r->state ||
			    qfile_rcpt_find(qf, r->n) != r)
				abort();
			(void) qfile_notify_text(r->notify);
		}
		if (data[qf->state_offset] != (uint8_t) qf->state)
			abort();
		qfile_free(&qf);
	} else if (error == NULL || damaged != 1) {
		abort();
	}
	free(error);
	free(path);
	return 0;
}
