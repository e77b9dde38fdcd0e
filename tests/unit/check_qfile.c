/* check_qfile: the queue file -- writing, reading, damage, updates. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mail_params.h"
#include "params.h"
#include "qfile.h"
#include "store.h"
#include "xalloc.h"

static char top[] = "/tmp/check_qfile.XXXXXX";

static void
setup(void)
{
	static const char *const dirs[] = { "tmp", "incoming", "hold" };
	char *path;
	size_t i;

	params_init();
	ck_assert_ptr_nonnull(mkdtemp(top));
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path = xasprintf("%s/%s", top, dirs[i]);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		free(path);
	}
}

static void
teardown(void)
{
	char *error = NULL;

	/* Remove the test tree below its own parent (store.h's guard). */
	ck_assert_msg(store_remove(top, "/tmp", &error) == 0, "%s", error);
}

/* Queue one message; returns its path (caller frees). */
static char *
queue_one(const char *message, size_t len, char **id_r)
{
	static char sender[] = "sender@example.test", addr[] = "192.0.2.1";
	static char helo[] = "client\tname", proto[] = "ESMTPS";
	static char envid[] = "env=1%", a[] = "a@example.test";
	static char orcpt[] = "rfc822;A@example.test", b[] = "b@example.test";
	struct qfile env;
	struct qfile_rcpt rcpts[2];
	struct qfile_writer *w;
	char *error = NULL, *path;

	memset(&env, 0, sizeof(env));
	memset(rcpts, 0, sizeof(rcpts));
	env.arrival = 1700000000;
	env.sender = sender;
	env.client_addr = addr;
	env.client_helo = helo;		/* the TAB is escaped in the file */
	env.protocol = proto;
	env.envid = envid;
	env.ret = QFILE_RET_HDRS;
	env.smtputf8 = 1;
	rcpts[0].address = a;
	rcpts[0].notify = QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_DELAY;
	rcpts[0].orcpt = orcpt;
	rcpts[1].address = b;
	env.rcpts = rcpts;
	env.rcpt_count = 2;
	w = qfile_writer_new(top, &error);
	ck_assert_msg(w != NULL, "%s", error);
	ck_assert(qfile_id_valid(qfile_writer_id(w)));
	*id_r = xstrdup(qfile_writer_id(w));
	ck_assert_int_eq(qfile_writer_envelope(w, &env, &error), 0);
	ck_assert_int_eq(qfile_writer_message(w, message, len, &error), 0);
	ck_assert_msg(qfile_writer_commit(&w, QFILE_INCOMING, &error) == 0,
	    "%s", error);
	ck_assert_ptr_null(w);
	path = qfile_path(top, QFILE_INCOMING, *id_r);
	ck_assert_int_eq(access(path, F_OK), 0);
	return path;
}

/* The whole file at path, NUL-terminated (caller frees). */
static char *
file_contents(const char *path)
{
	struct stat st;
	char *data;
	int fd;

	ck_assert_int_eq(stat(path, &st), 0);
	data = xmalloc((size_t) st.st_size + 1);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, data, (size_t) st.st_size), st.st_size);
	close(fd);
	data[st.st_size] = '\0';
	return data;
}

START_TEST(test_round_trip)
{
	static const char msg[] = "123456789";
	struct qfile *qf = NULL;
	char *id, *path, *error = NULL, *data;
	int damaged;

	path = queue_one(msg, strlen(msg), &id);
	ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0, "%s",
	    error);
	ck_assert_str_eq(qf->id, id);
	ck_assert_int_eq(qf->arrival, 1700000000);
	ck_assert_str_eq(qf->sender, "sender@example.test");
	ck_assert_str_eq(qf->client_helo, "client\tname");
	ck_assert_str_eq(qf->envid, "env=1%");
	ck_assert_int_eq(qf->ret, QFILE_RET_HDRS);
	ck_assert_int_eq(qf->smtputf8, 1);
	ck_assert_int_eq(qf->body_8bit, 0);
	ck_assert_uint_eq(qf->rcpt_count, 2);
	ck_assert_str_eq(qf->rcpts[0].address, "a@example.test");
	ck_assert_str_eq(qf->rcpts[0].orcpt, "rfc822;A@example.test");
	ck_assert_int_eq(qf->rcpts[0].notify,
	    QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_DELAY);
	ck_assert_int_eq(qf->rcpts[1].parent, -1);
	ck_assert_int_eq(qf->rcpts[1].state, QFILE_RCPT_PENDING);
	ck_assert_int_eq(qf->message_size, 9);
	/* The message is where the record says, and the CRC is the standard
	 * CRC-32 (check value of "123456789": cbf43926). */
	data = file_contents(path);
	ck_assert_int_eq(memcmp(data + qf->message_offset, msg, 9), 0);
	ck_assert_ptr_nonnull(strstr(data, "123456789Z\tcrc=cbf43926\n"));
	free(data);
	qfile_free(&qf);
	free(id);
	free(path);
}
END_TEST

/*
 * Direct delivery (smtpd): the message is readable from the unsynced
 * file, a recipient marked done before the commit stays done, and the
 * file still checks out (the CRC covers the message only).
 */
/*
 * The size record is right whether its digits were still in the write
 * buffer at the commit (one write) or already in the file (a message
 * past the 64 KiB buffer), and the hash directories are made when the
 * link finds one missing: at the first commit, and again after one was
 * removed.
 */
START_TEST(test_sizes_and_hash_dirs)
{
	static const size_t sizes[] = { 1, 65000, 65536, 70000, 300000 };
	struct qfile *qf = NULL;
	char *id, *path, *error = NULL, *msg, *data, *dir;
	size_t i, j;
	int damaged;

	var_queue_hash_depth = 2;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		msg = xmalloc(sizes[i]);
		for (j = 0; j < sizes[i]; j++)
			msg[j] = (char) ('a' + (i + j) % 26);
		path = queue_one(msg, sizes[i], &id);
		ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0,
		    "%s", error);
		ck_assert_int_eq(qf->message_size, (long long) sizes[i]);
		data = file_contents(path);
		ck_assert_int_eq(memcmp(data + qf->message_offset, msg,
		    sizes[i]), 0);
		free(data);
		qfile_free(&qf);
		/* The next commit into this directory makes it again. */
		ck_assert_int_eq(unlink(path), 0);
		dir = qfile_dir(top, QFILE_INCOMING, id, 0);
		ck_assert_int_eq(rmdir(dir), 0);
		free(dir);
		free(path);
		free(id);
		free(msg);
	}
	var_queue_hash_depth = 1;
}
END_TEST

/* An envelope from s@ to a@, b@ and c@example.test. */
static void
three_rcpt_envelope(struct qfile *env, struct qfile_rcpt rcpts[3])
{
	static char sender[] = "s@example.test", a[] = "a@example.test";
	static char b[] = "b@example.test", c[] = "c@example.test";

	memset(env, 0, sizeof(*env));
	memset(rcpts, 0, 3 * sizeof(*rcpts));
	env->sender = sender;
	rcpts[0].address = a;
	rcpts[1].address = b;
	rcpts[2].address = c;
	env->rcpts = rcpts;
	env->rcpt_count = 3;
}

/*
 * The CRC is taken when the buffer goes out or at the commit, not per
 * write: a message written in many pieces, past the 64 KiB buffer or
 * not, gets the CRC-32 of all its bytes, with two writers alive at once
 * (the second one new, the first one's memory reused afterwards).
 */
START_TEST(test_crc_of_pieces)
{
	static const size_t sizes[] = { 9, 65000, 65600, 200003 };
	static const size_t pieces[] = { 1, 7, 1000, 4096, 65536 };
	struct qfile env;
	struct qfile_rcpt rcpts[3];
	struct qfile_writer *w[2];
	struct qfile *qf = NULL;
	char *id[2], *path, *error = NULL, *msg, *data, want[32];
	size_t i, j, k, off, n;
	int damaged;

	three_rcpt_envelope(&env, rcpts);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		msg = xmalloc(sizes[i]);
		for (j = 0; j < sizes[i]; j++)
			msg[j] = (char) (j * 7 + i);
		for (k = 0; k < 2; k++) {
			w[k] = qfile_writer_new(top, &error);
			ck_assert_ptr_nonnull(w[k]);
			id[k] = xstrdup(qfile_writer_id(w[k]));
			ck_assert_int_eq(qfile_writer_envelope(w[k], &env,
			    &error), 0);
		}
		/* Interleaved, each in its own piece sizes. */
		for (off = 0, j = 0; off < sizes[i]; off += n, j++) {
			n = pieces[(i + j) % 5];
			if (n > sizes[i] - off)
				n = sizes[i] - off;
			for (k = 0; k < 2; k++)
				ck_assert_int_eq(qfile_writer_message(w[k],
				    msg + off, n, &error), 0);
		}
		snprintf(want, sizeof(want), "Z\tcrc=%08x\n",
		    (unsigned int) qfile_crc32(0, msg, sizes[i]));
		for (k = 0; k < 2; k++) {
			ck_assert_msg(qfile_writer_commit(&w[k],
			    QFILE_INCOMING, &error) == 0, "%s", error);
			path = qfile_path(top, QFILE_INCOMING, id[k]);
			ck_assert_msg(qfile_read(path, &qf, &damaged,
			    &error) == 0, "%s", error);
			ck_assert_int_eq(qf->message_size,
			    (long long) sizes[i]);
			data = file_contents(path);
			ck_assert_int_eq(memcmp(data + qf->message_offset,
			    msg, sizes[i]), 0);
			ck_assert_int_eq(memcmp(data + qf->message_offset +
			    sizes[i], want, strlen(want)), 0);
			free(data);
			qfile_free(&qf);
			free(path);
			free(id[k]);
		}
		free(msg);
	}
}
END_TEST

START_TEST(test_writer_direct)
{
	static const char msg[] = "Subject: x\r\n\r\n.dot line\r\n";
	struct qfile env, *qf = NULL;
	struct qfile_rcpt rcpts[3];
	struct qfile_writer *w;
	char *error = NULL, *path, *id;
	char back[sizeof(msg)];
	int damaged;

	three_rcpt_envelope(&env, rcpts);
	w = qfile_writer_new(top, &error);
	ck_assert_msg(w != NULL, "%s", error);
	id = xstrdup(qfile_writer_id(w));
	ck_assert_int_eq(qfile_writer_envelope(w, &env, &error), 0);
	ck_assert_int_eq(qfile_writer_message(w, msg, strlen(msg), &error), 0);
	ck_assert_int_eq(qfile_writer_message_size(w), (long long) strlen(msg));
	ck_assert_int_eq(qfile_writer_flush(w, &error), 0);
	ck_assert_int_eq(pread(qfile_writer_fd(w), back, strlen(msg),
	    qfile_writer_message_offset(w)), (ssize_t) strlen(msg));
	ck_assert_int_eq(memcmp(back, msg, strlen(msg)), 0);
	ck_assert_int_eq(qfile_writer_rcpt_done(w, 0, &error), 0);
	ck_assert_int_eq(qfile_writer_rcpt_done(w, 2, &error), 0);
	ck_assert_int_eq(qfile_writer_rcpt_done(w, 3, &error), -1);
	ck_assert_ptr_nonnull(error);
	free(error);
	error = NULL;
	ck_assert_msg(qfile_writer_commit(&w, QFILE_INCOMING, &error) == 0,
	    "%s", error);
	path = qfile_path(top, QFILE_INCOMING, id);
	ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0, "%s",
	    error);
	ck_assert_uint_eq(qf->rcpt_count, 3);
	ck_assert_int_eq(qf->rcpts[0].state, QFILE_RCPT_DONE);
	ck_assert_int_eq(qf->rcpts[1].state, QFILE_RCPT_PENDING);
	ck_assert_int_eq(qf->rcpts[2].state, QFILE_RCPT_DONE);
	ck_assert_int_eq(qf->message_size, (long long) strlen(msg));
	qfile_free(&qf);
	free(path);
	free(id);
}
END_TEST

/* Damage: truncation, a flipped message byte, a bad magic. */
START_TEST(test_damage_detected)
{
	static const char msg[] = "Subject: x\r\n\r\nbody line\r\n";
	struct qfile *qf = NULL;
	char *id, *path, *error = NULL;
	struct stat st;
	int damaged, fd;
	char c;

	path = queue_one(msg, strlen(msg), &id);
	ck_assert_int_eq(stat(path, &st), 0);
	fd = open(path, O_RDWR);
	switch (_i) {
	case 0:		/* cut inside the message */
		ck_assert_int_eq(ftruncate(fd, st.st_size - 30), 0);
		break;
	case 1:		/* one message byte changed */
		ck_assert_int_eq(pread(fd, &c, 1, st.st_size - 20), 1);
		c ^= 0x20;
		ck_assert_int_eq(pwrite(fd, &c, 1, st.st_size - 20), 1);
		break;
	case 2:		/* not a queue file */
		ck_assert_int_eq(pwrite(fd, "X", 1, 0), 1);
		break;
	case 3:		/* end marker cut off */
		ck_assert_int_eq(ftruncate(fd, st.st_size - 3), 0);
		break;
	}
	close(fd);
	ck_assert_int_eq(qfile_read(path, &qf, &damaged, &error), -1);
	ck_assert_int_eq(damaged, 1);
	ck_assert_ptr_nonnull(strstr(error, "damaged queue file"));
	ck_assert_ptr_null(qf);
	free(error);
	free(id);
	free(path);
}
END_TEST

START_TEST(test_missing_is_not_damage)
{
	struct qfile *qf = NULL;
	char *error = NULL, *path = qfile_path(top, QFILE_INCOMING,
	    "1aaaaaaaaaaa");
	int damaged = 7;

	ck_assert_int_eq(qfile_read(path, &qf, &damaged, &error), -1);
	ck_assert_int_eq(damaged, 0);
	free(error);
	free(path);
}
END_TEST

/* In-place states and appended records, as qmgr writes them. */
START_TEST(test_updates)
{
	static char c_addr[] = "c@example.test";
	static const char msg[] = "Subject: y\r\n\r\nz\r\n";
	struct qfile *qf = NULL;
	struct qfile_rcpt child;
	struct buf *rec = buf_new(65536);
	char *id, *path, *error = NULL;
	int damaged, fd;

	path = queue_one(msg, strlen(msg), &id);
	ck_assert_int_eq(qfile_read(path, &qf, &damaged, &error), 0);
	fd = open(path, O_RDWR);
	ck_assert_int_eq(qfile_set_state(fd, qf->rcpts[0].state_offset,
	    QFILE_RCPT_EXPANDED, &error), 0);
	ck_assert_int_eq(qfile_set_state(fd, qf->state_offset,
	    QFILE_MSG_WARNED, &error), 0);
	memset(&child, 0, sizeof(child));
	child.n = 2;
	child.parent = 0;
	child.address = c_addr;
	child.notify = QFILE_NOTIFY_NEVER;
	ck_assert_int_eq(qfile_record_rcpt(rec, &child), 0);
	ck_assert_int_eq(qfile_record_result(rec, 2, "451", "4.4.1",
	    "connect to\tstore: refused\n", 1700000100), 0);
	ck_assert_int_eq(qfile_append(fd, rec, 1, &error), 0);
	/* A crash mid-append: a last line without its LF is ignored. */
	buf_reset(rec);
	(void) buf_append_str(rec, "L\tn=2\tcode=25");
	ck_assert_int_eq(qfile_append(fd, rec, 1, &error), 0);
	close(fd);
	qfile_free(&qf);
	ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0, "%s",
	    error);
	ck_assert_int_eq(qf->state, QFILE_MSG_WARNED);
	ck_assert_int_eq(qf->rcpts[0].state, QFILE_RCPT_EXPANDED);
	ck_assert_uint_eq(qf->rcpt_count, 3);
	ck_assert_int_eq(qf->rcpts[2].parent, 0);
	ck_assert_int_eq(qf->rcpts[2].notify, QFILE_NOTIFY_NEVER);
	ck_assert_str_eq(qf->rcpts[2].last_code, "451");
	ck_assert_str_eq(qf->rcpts[2].last_text,
	    "connect to\tstore: refused\n");
	ck_assert_int_eq(qf->rcpts[2].attempts, 1);
	qfile_free(&qf);
	buf_free(&rec);
	free(id);
	free(path);
}
END_TEST

static void
assert_damaged(const char *path)
{
	struct qfile *qf = NULL;
	char *error = NULL;
	int damaged;

	ck_assert_int_eq(qfile_read(path, &qf, &damaged, &error), -1);
	ck_assert_int_eq(damaged, 1);
	free(error);
}

/* Write raw bytes at the end, as a crash would have left them. */
static void
write_raw(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
	close(fd);
}

/* The file reads back whole, recipient 0 with this many results. */
static void
assert_attempts(const char *path, int attempts)
{
	struct qfile *qf = NULL;
	char *error = NULL;
	int damaged;

	ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0, "%s",
	    error);
	ck_assert_int_eq(qf->rcpts[0].attempts, attempts);
	qfile_free(&qf);
}

/* Bad records after the end marker are damage too. */
START_TEST(test_bad_appended_record)
{
	static const char msg[] = "x\r\n";
	struct buf *rec = buf_new(1024);
	char *id, *path, *error = NULL;
	int fd;

	path = queue_one(msg, strlen(msg), &id);
	fd = open(path, O_RDWR);
	/* Unknown record, unknown recipient, duplicate index, two records
	 * run together (a torn append joined by the next one). */
	(void) buf_append_str(rec, _i == 0 ? "Q\tfoo=bar\n" :
	    _i == 1 ? "L\tn=99\tcode=250\n" : _i == 2 ?
	    "R P\tn=0\taddr=dup@x\n" :
	    "L\tn=0\tcode=45L\tn=0\tcode=451\ttext=x\n");
	ck_assert_int_eq(qfile_append(fd, rec, 1, &error), 0);
	close(fd);
	assert_damaged(path);
	buf_free(&rec);
	free(id);
	free(path);
}
END_TEST

/* One result record for recipient 0 (n=0), as qmgr appends it. */
static struct buf *
result_record(void)
{
	struct buf *rec = buf_new(65536);

	ck_assert_int_eq(qfile_record_result(rec, 0, "451", "4.2.2",
	    "mailbox full: try again later, with a long enough text to "
	    "need more than the few bytes the file size limit leaves",
	    1700000100), 0);
	return rec;
}

/*
 * A disk full mid-append (here RLIMIT_FSIZE: write(2) stores what fits,
 * then fails) must not leave half a record for the next append to join:
 * the file goes back to its old length and stays readable.
 */
START_TEST(test_append_short_write)
{
	static const char msg[] = "x\r\n";
	struct buf *rec = result_record();
	struct rlimit old, small;
	struct stat st;
	char *id, *path, *error = NULL;
	int fd;

	path = queue_one(msg, strlen(msg), &id);
	fd = open(path, O_RDWR);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = (rlim_t) st.st_size + 10;
	(void) signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	ck_assert_int_eq(qfile_append(fd, rec, 1, &error), -1);
	free(error);
	error = NULL;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(qfile_append(fd, rec, 1, &error), 0);
	close(fd);
	assert_attempts(path, 1);
	buf_free(&rec);
	free(id);
	free(path);
}
END_TEST

/*
 * A torn last record (a crash between write and truncate) is ignored by
 * the reader, and the next append replaces it instead of joining it;
 * a torn record in the middle is still damage.
 */
START_TEST(test_append_after_torn_tail)
{
	static const char msg[] = "x\r\n";
	static const char torn[] = "L\tn=0\tco";
	struct buf *rec = result_record();
	char *id, *path, *error = NULL;
	int fd;

	path = queue_one(msg, strlen(msg), &id);
	write_raw(path, torn, strlen(torn));
	assert_attempts(path, 0);
	fd = open(path, O_RDWR);
	ck_assert_int_eq(qfile_append(fd, rec, 1, &error), 0);
	close(fd);
	assert_attempts(path, 1);
	/* Torn, then a whole record after it (no heal): damaged. */
	write_raw(path, torn, strlen(torn));
	write_raw(path, buf_cstr(rec), buf_len(rec));
	assert_damaged(path);
	buf_free(&rec);
	free(id);
	free(path);
}
END_TEST

/* Ids are unique even when made in the same microsecond. */
START_TEST(test_ids_unique)
{
	struct qfile_writer *w[50];
	char *error = NULL;
	size_t i, k;

	for (i = 0; i < 50; i++) {
		w[i] = qfile_writer_new(top, &error);
		ck_assert_ptr_nonnull(w[i]);
	}
	for (i = 0; i < 50; i++)
		for (k = i + 1; k < 50; k++)
			ck_assert_str_ne(qfile_writer_id(w[i]),
			    qfile_writer_id(w[k]));
	for (i = 0; i < 50; i++)
		qfile_writer_abort(&w[i]);
}
END_TEST

/*
 * Ids from one process in a tight loop: distinct, in arrival order (the
 * time digits strictly increase even within one microsecond), valid,
 * and the hash character changes.
 */
START_TEST(test_ids_ordered_without_files)
{
	struct qfile_writer *w;
	char *error = NULL, *prev = NULL;
	char seen[128];
	size_t i, hashes = 0;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 2000; i++) {
		w = qfile_writer_new(top, &error);
		ck_assert_ptr_nonnull(w);
		/* Nothing is created before the buffer goes out. */
		ck_assert_int_eq(qfile_writer_fd(w), -1);
		ck_assert(qfile_id_valid(qfile_writer_id(w)));
		ck_assert_int_ge(strlen(qfile_writer_id(w)), 13);
		if (prev != NULL)
			ck_assert_msg(strncmp(prev, qfile_writer_id(w), 10) < 0,
			    "%s then %s", prev, qfile_writer_id(w));
		free(prev);
		prev = xstrdup(qfile_writer_id(w));
		if (!seen[(unsigned char) prev[strlen(prev) - 1] & 127]++)
			hashes++;
		qfile_writer_abort(&w);
	}
	free(prev);
	ck_assert_uint_gt(hashes, 30);
}
END_TEST

/*
 * A message that fits the buffer: no file until the commit, the message
 * readable from memory, a recipient marked done there; the committed
 * file carries it all.  A bigger one has its file once past the buffer.
 */
START_TEST(test_writer_in_memory)
{
	static const char msg[] = "Subject: m\r\n\r\nin memory\r\n";
	struct qfile env, *qf = NULL;
	struct qfile_rcpt rcpts[3];
	struct qfile_writer *w;
	char *error = NULL, *path, *id, *big;
	const char *buffered;
	size_t big_len = 100000;
	int damaged;

	three_rcpt_envelope(&env, rcpts);
	w = qfile_writer_new(top, &error);
	id = xstrdup(qfile_writer_id(w));
	ck_assert_int_eq(qfile_writer_envelope(w, &env, &error), 0);
	ck_assert_int_eq(qfile_writer_message(w, msg, strlen(msg), &error), 0);
	buffered = qfile_writer_buffered_message(w);
	ck_assert_ptr_nonnull(buffered);
	ck_assert_int_eq(memcmp(buffered, msg, strlen(msg)), 0);
	ck_assert_int_eq(qfile_writer_rcpt_done(w, 1, &error), 0);
	ck_assert_int_eq(qfile_writer_fd(w), -1);
	ck_assert_msg(qfile_writer_commit(&w, QFILE_INCOMING, &error) == 0,
	    "%s", error);
	path = qfile_path(top, QFILE_INCOMING, id);
	ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0, "%s",
	    error);
	ck_assert_int_eq(qf->rcpts[0].state, QFILE_RCPT_PENDING);
	ck_assert_int_eq(qf->rcpts[1].state, QFILE_RCPT_DONE);
	ck_assert_int_eq(qf->rcpts[2].state, QFILE_RCPT_PENDING);
	ck_assert_int_eq(qf->message_size, (long long) strlen(msg));
	qfile_free(&qf);
	free(path);
	free(id);

	big = xmalloc(big_len);
	memset(big, 'x', big_len);
	w = qfile_writer_new(top, &error);
	ck_assert_int_eq(qfile_writer_envelope(w, &env, &error), 0);
	ck_assert_int_eq(qfile_writer_message(w, big, big_len, &error), 0);
	ck_assert_int_ge(qfile_writer_fd(w), 0);
	ck_assert_ptr_null(qfile_writer_buffered_message(w));
	qfile_writer_abort(&w);
	free(big);
}
END_TEST

static const struct {
	const char *text;
	int bits;
} notify_cases[] = {
	{ "NEVER", QFILE_NOTIFY_NEVER },
	{ "SUCCESS,FAILURE", QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_FAILURE },
	{ "delay", QFILE_NOTIFY_DELAY },
	{ "NEVER,SUCCESS", -1 },
	{ "", -1 },
	{ "SUCCESS,", -1 },
	{ "BOGUS", -1 },
	{ ",FAILURE", -1 },
};

/* Header fields added at the end of DATA ride in H records. */
START_TEST(test_prepend_headers)
{
	static const char *const bad[] = {
		"", "NoColon", ": empty name", ".Dot: x", "Sp ace: x",
		"Bare: a\rb", "Bare: a\nb", "Fold: a\r\nb", "Trail: a\r\n",
		"Ctl: a\001b",
	};
	static char sender[] = "s@example.test", a[] = "a@example.test";
	static const char field1[] = "Authentication-Results: mx.example.test;"
	    "\r\n\tspf=pass smtp.mailfrom=example.org";
	struct qfile env;
	struct qfile_rcpt rcpt;
	struct qfile_writer *w;
	struct qfile *qf = NULL;
	struct buf *rec = buf_new(4096);
	char *const *got;
	char *error = NULL, *path, *id, *big;
	size_t i, count;
	int damaged, fd;

	memset(&env, 0, sizeof(env));
	memset(&rcpt, 0, sizeof(rcpt));
	env.arrival = 1700000000;
	env.sender = sender;
	rcpt.address = a;
	env.rcpts = &rcpt;
	env.rcpt_count = 1;
	w = qfile_writer_new(top, &error);
	ck_assert_msg(w != NULL, "%s", error);
	id = xstrdup(qfile_writer_id(w));
	ck_assert_int_eq(qfile_writer_envelope(w, &env, &error), 0);
	ck_assert_int_eq(qfile_writer_message(w, "Subject: x\r\n\r\nbody\r\n",
	    20, &error), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(qfile_writer_prepend_header(w, bad[i], &error) ==
		    -1, "accepted %s", bad[i]);
		free(error);
		error = NULL;
	}
	big = xmalloc(QFILE_PREPEND_FIELD_MAX + 2);
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'a', QFILE_PREPEND_FIELD_MAX - 6);
	big[QFILE_PREPEND_FIELD_MAX + 1] = '\0';
	ck_assert_int_eq(qfile_writer_prepend_header(w, big, &error), -1);
	free(error);
	free(big);
	ck_assert_int_eq(qfile_writer_prepend_header(w, field1, &error), 0);
	ck_assert_int_eq(qfile_writer_prepend_header(w, "X-Spam-Flag: YES",
	    &error), 0);
	got = qfile_writer_prepended(w, &count);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(got[1], "X-Spam-Flag: YES");
	ck_assert_msg(qfile_writer_commit(&w, QFILE_INCOMING, &error) == 0,
	    "%s", error);
	path = qfile_path(top, QFILE_INCOMING, id);
	/* qmgr's appends come after the H records. */
	ck_assert_int_eq(qfile_record_result(rec, 0, "451", "4.4.1", "later",
	    1700000001), 0);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(qfile_append(fd, rec, 0, &error) == 0, "%s", error);
	ck_assert_msg(qfile_read(path, &qf, &damaged, &error) == 0, "%s",
	    error);
	ck_assert_uint_eq(qf->prepend_count, 2);
	ck_assert_str_eq(qf->prepend[0], field1);
	ck_assert_str_eq(qf->prepend[1], "X-Spam-Flag: YES");
	ck_assert_int_eq(qf->prepend_size,
	    (long long) (strlen(field1) + 2 + 16 + 2));
	ck_assert_int_eq(qf->message_size, 20);
	ck_assert_str_eq(qf->rcpts[0].last_code, "451");
	qfile_free(&qf);
	/* A forged H record with a bare LF in it is damage, not a header. */
	buf_reset(rec);
	(void) buf_append_str(rec, "H\ttext=X-Evil: a%0Ab\n");
	ck_assert_int_eq(qfile_append(fd, rec, 0, &error), 0);
	ck_assert_int_eq(qfile_read(path, &qf, &damaged, &error), -1);
	ck_assert_int_eq(damaged, 1);
	free(error);
	close(fd);
	buf_free(&rec);
	free(path);
	free(id);
}
END_TEST

START_TEST(test_notify_parse)
{
	ck_assert_int_eq(qfile_notify_parse(notify_cases[_i].text),
	    notify_cases[_i].bits);
}
END_TEST

static Suite *
qfile_suite(void)
{
	Suite *s = suite_create("qfile");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_sizes_and_hash_dirs);
	tcase_add_test(tc, test_prepend_headers);
	tcase_add_test(tc, test_writer_direct);
	tcase_add_loop_test(tc, test_damage_detected, 0, 4);
	tcase_add_test(tc, test_missing_is_not_damage);
	tcase_add_test(tc, test_updates);
	tcase_add_loop_test(tc, test_bad_appended_record, 0, 4);
	tcase_add_test(tc, test_ids_unique);
	tcase_add_test(tc, test_ids_ordered_without_files);
	tcase_add_test(tc, test_writer_in_memory);
	tcase_add_test(tc, test_crc_of_pieces);
	tcase_add_test(tc, test_append_short_write);
	tcase_add_test(tc, test_append_after_torn_tail);
	suite_add_tcase(s, tc);
	tc = tcase_create("notify");
	tcase_add_loop_test(tc, test_notify_parse, 0,
	    sizeof(notify_cases) / sizeof(notify_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(qfile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
