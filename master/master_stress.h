/*
 * master_stress: Postfix's stress mode for the master's services.
 *
 * A service whose processes are all busy at its process limit is under
 * stress: new clients wait in the listen queue until one finishes.  Its
 * children are told (master_proto.h: a signal for those running, the
 * environment for new ones) so they switch to their short stress
 * timeouts and idle clients make room; when the service has an idle
 * process or room under its limit again, they are told to switch back.
 * Each change is logged; the times a service went under stress are
 * counted for the status socket.  A kept-running daemon (qmgr) is busy
 * by design and never under stress.
 */
#ifndef ISPMAIL_MASTER_STRESS_H
#define ISPMAIL_MASTER_STRESS_H

struct master_service;

/* After svc's counts changed: enter or leave stress, tell the children. */
void master_stress_update(struct master_service *svc);

#endif
