"""ispmail-master's privilege rules (ispmail-master(8), Privileges): a
network-facing (inet) service never runs as root unless main.conf says
allow_root_services = yes, and secret files that others can read are
warned about at start.  Both are checks of the configuration and the
files, so they run as an ordinary user as well as root."""

import os
import re
import subprocess

from harness import MASTER, testsvc

REFUSED = "refusing to run the network-facing (inet) service as root"


def run_check(inst, write=True):
    """ispmail-master -t on inst's configuration (written first)."""
    if write:
        inst.write_main_conf()
        inst.write_master_conf()
    return subprocess.run([MASTER, "-t", "-c", inst.config_dir],
                          capture_output=True, text=True, timeout=10)


def root_services():
    return [testsvc("front", user="root", maxproc=1),
            testsvc("back", type="unix", listen="private/back",
                    user="root", maxproc=1)]


def test_inet_service_as_root_refused(make_instance):
    inst = make_instance(root_services(),
                         params={"allow_root_services": "no"})
    r = run_check(inst)
    assert r.returncode == 1, r.stderr
    # The inet line (line 2, after the harness's comment) is named; the
    # unix one as root is allowed.
    lines = [l for l in r.stderr.splitlines() if REFUSED in l]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(inst.master_conf + ":2: "), r.stderr
    assert "allow_root_services = yes" in lines[0]
    inst.start(wait=False)
    assert inst.proc.wait(10) == 1
    assert REFUSED in inst.log()
    assert not os.path.exists(inst.status_path)


def test_inet_service_as_root_by_default_refused(make_instance):
    """The default is no: main.conf without the parameter refuses."""
    inst = make_instance(root_services())
    params = inst.base_params()
    params.pop("allow_root_services", None)
    with open(inst.main_conf, "w") as f:
        for name, value in params.items():
            f.write("%s = %s\n" % (name, value))
    inst.write_master_conf()
    r = run_check(inst, write=False)
    assert r.returncode == 1 and REFUSED in r.stderr, r.stderr


def test_inet_service_as_root_allowed_explicitly(make_instance):
    inst = make_instance(root_services(),
                         params={"allow_root_services": "yes"})
    r = run_check(inst)
    assert r.returncode == 0, r.stderr


def secret(inst, name, mode):
    path = os.path.join(inst.config_dir, name)
    with open(path, "w") as f:
        f.write("not really a secret\n")
    os.chmod(path, mode)
    return path


def test_world_readable_secrets_warned(make_instance):
    inst = make_instance([testsvc("a", maxproc=1)])
    key = secret(inst, "key.pem", 0o644)
    bindpw = secret(inst, "bindpw", 0o666)
    srs = secret(inst, "srs", 0o604)
    inst.params.update({"tls_key_file": key,
                        "ldap_bind_password_file": bindpw})
    # A per-service override is looked at too.
    inst.services[0].options = {"srs_secret_file": srs}
    r = run_check(inst)
    assert r.returncode == 0, r.stderr
    warned = r.stderr
    assert re.search(r"warning: tls_key_file %s is world-readable "
                     r"\(mode 0644\)" % re.escape(key), warned), warned
    assert re.search(r"warning: ldap_bind_password_file %s is writable "
                     r"by its group or others \(mode 0666\)"
                     % re.escape(bindpw), warned), warned
    assert ("ldap_bind_password_file %s is world-readable" % bindpw
            in warned), warned
    assert "srs_secret_file %s is world-readable" % srs in warned, warned
    # The running master logs them (and starts anyway).
    inst.start()
    inst.wait_for_log(r"tls_key_file %s is world-readable" % re.escape(key))
    inst.wait_for_log(r"srs_secret_file %s is world-readable"
                      % re.escape(srs))


def test_private_secrets_not_warned(make_instance):
    inst = make_instance([testsvc("a", maxproc=1)])
    key = secret(inst, "key.pem", 0o600)
    # Group-readable by a group with no member outside the services'
    # users (the test's own primary group, or root's) is fine, as the
    # snakeoil key's ssl-cert group holding the mail owner is.
    bindpw = secret(inst, "bindpw", 0o640)
    inst.params.update({"tls_key_file": key,
                        "ldap_bind_password_file": bindpw})
    r = run_check(inst)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr
    inst.start()
    assert "readable" not in inst.log() and "writable" not in inst.log()
