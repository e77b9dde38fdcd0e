/*
 * master_status: the status socket ispmailctl status reads.
 *
 * A unix stream socket (MASTER_STATUS_SOCKET under queue_directory, mode
 * 0600) served from the master's poll loop.  A client sends one attribute
 * record "request=status" and gets the answer master_proto.h documents,
 * then the master closes the connection.  A request must arrive within
 * MASTER_STATUS_TIMEOUT_MS of the connect and fit MASTER_STATUS_REQUEST_MAX
 * bytes; at most MASTER_STATUS_CLIENTS_MAX clients are served at once
 * (further connects wait in the listen queue).  Requests are read without
 * blocking, so a silent client never stalls the master.
 */
#ifndef ISPMAIL_MASTER_STATUS_H
#define ISPMAIL_MASTER_STATUS_H

#define MASTER_STATUS_TIMEOUT_MS 2000
#define MASTER_STATUS_REQUEST_MAX 4096
#define MASTER_STATUS_CLIENTS_MAX 16

/* Create the socket at path.  0 ok; -1 with *error_r (caller frees). */
int master_status_open(const char *path, char **error_r);
/* Register the socket and its clients with the loop; expire slow ones. */
void master_status_watch(void);
/* Close everything and remove the socket file (at stop). */
void master_status_close(void);

#endif
