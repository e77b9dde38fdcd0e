/* master_stress: stress mode of a service at its process limit. */
#include "config.h"

#include "log.h"
#include "mail_params.h"
#include "master.h"
#include "master_conf.h"
#include "master_proto.h"
#include "master_spawn.h"
#include "master_stress.h"

/*
 * A service at its cap may go in and out of stress with every connection;
 * the lines are logged at most once per process_limit_warning_time (the
 * "off" only after a logged "on"), the count and the signals every time.
 */
static void
log_change(struct master_service *svc, int on)
{
	long long now = master_now_ms();

	if (on) {
		if (svc->last_stress_log != 0 && now - svc->last_stress_log
		    < var_process_limit_warning_time * 1000)
			return;
		svc->last_stress_log = now;
		svc->stress_logged = 1;
		log_warn("service %s: stress mode on: all %d processes busy; "
		    "stress timeouts apply (%llu times so far)",
		    svc->conf->name, svc->total, svc->stress_events);
	} else if (svc->stress_logged) {
		svc->stress_logged = 0;
		log_info("service %s: stress mode off: %d of %lld processes "
		    "busy", svc->conf->name, svc->busy,
		    (long long) svc->conf->maxproc);
	}
}

void
master_stress_update(struct master_service *svc)
{
	int at_cap = !svc->conf->keep_running && svc->idle == 0
	    && svc->total > 0 && svc->total >= svc->conf->maxproc;

	if (at_cap == svc->stress)
		return;
	svc->stress = at_cap;
	if (at_cap)
		svc->stress_events++;
	log_change(svc, at_cap);
	master_spawn_signal_service(svc, at_cap ? MASTER_STRESS_ON_SIGNAL
	    : MASTER_STRESS_OFF_SIGNAL);
}
