/* master_reload: load the configuration and apply a new one on SIGHUP. */
#include "config.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mail_params.h"
#include "master.h"
#include "master_conf.h"
#include "master_listen.h"
#include "master_metrics.h"
#include "master_reload.h"
#include "master_spawn.h"
#include "params.h"
#include "xalloc.h"

static char **overrides;
static int override_count;
static char *queue_dir;

void
master_reload_set_overrides(char **list, int count)
{
	overrides = list;
	override_count = count;
}

void
master_reload_pin_queue_dir(const char *dir)
{
	free(queue_dir);
	queue_dir = xstrdup(dir);
}

static void
add_error(struct buf *errors, const char *text)
{
	(void) buf_printf(errors, "%s%s", buf_len(errors) > 0 ? "\n" : "",
	    text);
}

/*
 * Parameters (defaults, main.conf, -c, -o) then master.conf, all checked.
 * 0 ok with *conf_r; -1 with *error_r listing every problem.
 */
int
master_reload_read(struct master_conf **conf_r, char **error_r)
{
	struct buf *errors = buf_new(BUF_DEFAULT_CAP);
	char *path, *error = NULL;
	int i;

	*conf_r = NULL;
	params_init();
	/* Set before main.conf too, so $config_directory there expands to -c. */
	if (params_set("config_directory", master_config_dir, &error) < 0)
		add_error(errors, error);
	xfree(error);
	path = xasprintf("%s/main.conf", master_config_dir);
	if (params_read_file(path, 1, &error) < 0)
		add_error(errors, error);
	xfree(error);
	free(path);
	/* -c names the instance, whatever main.conf says. */
	if (params_set("config_directory", master_config_dir, &error) < 0)
		add_error(errors, error);
	xfree(error);
	for (i = 0; i < override_count; i++) {
		if (params_set_override(overrides[i], &error) < 0)
			add_error(errors, error);
		xfree(error);
	}
	if (queue_dir != NULL && strcmp(queue_dir, var_queue_directory) != 0) {
		log_warn("queue_directory changes take effect on restart, "
		    "not on reload; still using %s", queue_dir);
		(void) params_set("queue_directory", queue_dir, &error);
		xfree(error);
	}
	if (geteuid() == 0 && getpwnam(var_mail_owner) == NULL) {
		error = xasprintf("mail_owner %s: no such user",
		    var_mail_owner);
		add_error(errors, error);
		xfree(error);
	}
	path = xasprintf("%s/master.conf", master_config_dir);
	if (master_conf_read(path, conf_r, &error) < 0)
		add_error(errors, error);
	xfree(error);
	free(path);
	for (i = 0; *conf_r != NULL && i < (*conf_r)->count; i++) {
		if (master_listen_check((*conf_r)->services[i], &error) < 0)
			add_error(errors, error);
		xfree(error);
	}
	if (buf_len(errors) > 0) {
		master_conf_free(conf_r);
		*error_r = buf_strdup(errors);
		buf_free(&errors);
		return -1;
	}
	buf_free(&errors);
	return 0;
}

void
master_reload_log_errors(const char *errors)
{
	const char *line = errors, *nl;

	for (; *line != '\0'; line = *nl != '\0' ? nl + 1 : nl) {
		nl = line + strcspn(line, "\n");
		log_error("%.*s", (int) (nl - line), line);
	}
}

struct master_service *
master_reload_start_service(const struct master_service_conf *sc)
{
	char *error = NULL;
	int fd;

	if (master_listen_open(sc, &fd, &error) < 0) {
		log_error("service %s: %s", sc->name, error);
		free(error);
		return NULL;
	}
	return master_service_new(master_service_conf_dup(sc), fd);
}

static struct master_service *
take_service(struct master_service **list, const char *name)
{
	struct master_service **pp, *svc;

	for (pp = list; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->conf->name, name) == 0) {
			svc = *pp;
			*pp = svc->next;
			svc->next = NULL;
			return svc;
		}
	}
	return NULL;
}

static const struct master_service_conf *
find_conf(const struct master_conf *conf, const char *name)
{
	int i;

	for (i = 0; i < conf->count; i++)
		if (strcmp(conf->services[i]->name, name) == 0)
			return conf->services[i];
	return NULL;
}

/*
 * Make the running services match conf.  Listeners that go away are
 * closed before new ones are bound, so an address can move between
 * services in one reload.
 */
static void
apply_services(const struct master_conf *conf)
{
	struct master_service *old = master_services, *svc, **tail;
	const struct master_service_conf *sc;
	int added = 0, removed = 0, restarted = 0, resized = 0, i, fd;
	char *error;

	for (svc = old; svc != NULL; svc = svc->next) {
		sc = find_conf(conf, svc->conf->name);
		if (sc == NULL || !master_conf_same_listener(sc, svc->conf)) {
			master_listen_remove(svc->conf);
			close(svc->listen_fd);
			svc->listen_fd = -1;
		}
	}
	master_services = NULL;
	tail = &master_services;
	for (i = 0; i < conf->count; i++) {
		sc = conf->services[i];
		if ((svc = take_service(&old, sc->name)) == NULL) {
			if ((svc = master_reload_start_service(sc)) == NULL)
				continue;
			added++;
		} else if (svc->listen_fd < 0) {
			error = NULL;
			if (master_listen_open(sc, &fd, &error) < 0) {
				log_error("service %s: %s; service stopped",
				    sc->name, error);
				free(error);
				master_service_free(&svc);
				removed++;
				continue;
			}
			svc->listen_fd = fd;
			master_service_retire(svc);
			restarted++;
		} else {
			/*
			 * main.conf may have changed anything a process
			 * read when it started (relayhost, TLS policy, the
			 * directory): as Postfix's reload, every process
			 * finishes its current session or delivery and
			 * exits; new ones read the new configuration.
			 */
			if (!master_conf_same_command(sc, svc->conf))
				restarted++;
			else if (sc->maxproc != svc->conf->maxproc)
				resized++;
			master_service_retire(svc);
		}
		master_service_conf_free(&svc->conf);
		svc->conf = master_service_conf_dup(sc);
		*tail = svc;
		tail = &svc->next;
	}
	while ((svc = old) != NULL) {
		old = svc->next;
		master_service_free(&svc);
		removed++;
	}
	log_info("reloaded: %d services (%d added, %d removed, %d restarted, "
	    "%d process limits changed)", conf->count, added, removed,
	    restarted, resized);
	master_spawn_reload_started();
}

/* The effective value of every parameter, to undo a bad reload. */
static char **
save_params(void)
{
	size_t count = 0, i;
	char **saved;

	while (param_table[count].name != NULL)
		count++;
	saved = xcalloc(count + 1, sizeof(char *));
	for (i = 0; i < count; i++)
		saved[i] = xstrdup(params_value(param_table[i].name));
	return saved;
}

static void
restore_params(char **saved)
{
	char *error = NULL;
	size_t i;

	params_init();
	for (i = 0; param_table[i].name != NULL; i++) {
		if (params_set(param_table[i].name, saved[i], &error) < 0)
			log_error("restore %s: %s", param_table[i].name, error);
		xfree(error);
	}
}

void
master_reload(void)
{
	struct master_conf *conf;
	char **saved = save_params(), *errors;
	size_t i;

	log_info("reloading configuration from %s", master_config_dir);
	if (master_reload_read(&conf, &errors) < 0) {
		master_reload_log_errors(errors);
		log_error("reload failed: configuration invalid; keeping the "
		    "running configuration");
		free(errors);
		restore_params(saved);
	} else {
		apply_services(conf);
		master_metrics_prepare(queue_dir, conf);
		master_conf_free(&conf);
	}
	for (i = 0; saved[i] != NULL; i++)
		free(saved[i]);
	free(saved);
}

