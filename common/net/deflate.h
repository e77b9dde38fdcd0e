/*
 * deflate: a compression layer for a stream (IMAP COMPRESS=DEFLATE, RFC
 * 4978): raw deflate (no zlib header) both ways, pushed onto whatever
 * transport the stream has (the descriptor, or TLS beneath it).
 *
 * Each write is compressed and flushed with Z_SYNC_FLUSH, so the peer can
 * inflate every response as soon as it arrives; a write reports its bytes
 * taken only once their compressed form is out, so a stream flush means
 * the peer has everything.  Reads inflate into the caller's buffer, at
 * most its size per call, so a small compressed input cannot make the
 * layer hold more than DEFLATE_BUF_SIZE of output (no decompression bomb
 * past the stream's own line and literal limits).  Compressed input
 * already read counts as pending input (stream_pending).
 */
#ifndef ISPMAIL_DEFLATE_H
#define ISPMAIL_DEFLATE_H

struct stream;
struct deflate_conn;

/*
 * Push the layer onto s (its buffered output must be flushed and its
 * buffered input empty).  NULL with *error_r (caller frees) when zlib
 * cannot start.  The connection must outlive every use of s; free it
 * before the transport beneath (TLS) is freed.
 */
struct deflate_conn *deflate_start(struct stream *s, char **error_r);
void deflate_conn_free(struct deflate_conn **dp);

#endif
