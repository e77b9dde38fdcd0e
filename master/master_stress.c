/* master_stress: stress mode of a service at its process limit. */
#include "config.h"

#include "log.h"
#include "master.h"
#include "master_conf.h"
#include "master_proto.h"
#include "master_spawn.h"
#include "master_stress.h"

void
master_stress_update(struct master_service *svc)
{
	int at_cap = !svc->conf->keep_running && svc->idle == 0
	    && svc->total > 0 && svc->total >= svc->conf->maxproc;

	if (at_cap == svc->stress)
		return;
	svc->stress = at_cap;
	if (at_cap) {
		svc->stress_events++;
		log_warn("service %s: stress mode on: all %d processes busy; "
		    "stress timeouts apply", svc->conf->name, svc->total);
	} else {
		log_info("service %s: stress mode off: %d of %lld processes "
		    "busy", svc->conf->name, svc->busy,
		    (long long) svc->conf->maxproc);
	}
	master_spawn_signal_service(svc, at_cap ? MASTER_STRESS_ON_SIGNAL
	    : MASTER_STRESS_OFF_SIGNAL);
}
