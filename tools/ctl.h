/*
 * ctl: the subcommands of ispmailctl, one file each.
 *
 * Each subcommand gets the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit status: 0 ok, 1 failed (a
 * message on stderr), 2 usage error.  Parameters (main.conf of the -c
 * directory) are already loaded when a subcommand runs.
 */
#ifndef ISPMAIL_CTL_H
#define ISPMAIL_CTL_H

/* ispmailctl status: the master's per-service table. */
int ctl_status(int argc, char **argv);
/* ispmailctl config [-n] [name ...]: the effective main.conf (postconf). */
int ctl_config(int argc, char **argv);

#endif
