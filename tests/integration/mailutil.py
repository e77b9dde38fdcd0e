"""A small mail system for the integration tests: a master with smtpd
(mx, submission, smtps) -- and, as they exist, qmgr, the delivery agent,
lmtpd -- on free loopback ports, the file routing backend with a
provisioned domain and mailboxes, and a test CA's certificate."""

import glob
import os
import re
import socket
import time

import harness
import tlsutil

PASSWORD = "s3cret-pw"


def smtpd_services(maxproc=4, options=None):
    opts = dict(options or {})
    mx = harness.Service("smtp", "smtpd/smtpd", maxproc=maxproc,
                         options=dict(opts, smtpd_mode="mx"))
    sub = harness.Service("submission", "smtpd/smtpd", maxproc=maxproc,
                          options=dict(opts, smtpd_mode="submission"))
    smtps = harness.Service("smtps", "smtpd/smtpd", maxproc=maxproc,
                            options=dict(opts, smtpd_mode="submission",
                                         tls_wrapper_mode="yes"))
    return [mx, sub, smtps]


def base_params(inst, certs):
    return {
        "route_backend": "file",
        "route_file_check_interval": "0",
        "store_owner": harness.current_user() if os.geteuid() != 0
        else "nobody",
        "tls_cert_file": certs["cert"],
        "tls_key_file": certs["key"],
        "auth_failure_delay": "0",
        "myhostname": "mx.example.test",
    }


def provision(inst, password=PASSWORD):
    """example.test with alice and bob, an alias, a relay domain."""
    routes = os.path.join(inst.config_dir, "routes")
    if not os.path.exists(routes):
        open(routes, "w").close()

    def ctl(*args, input=None):
        r = inst.ctl(*args, input=input)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    ctl("domain", "add", "example.test")
    ctl("domain", "add", "backup.test", "relay",
        "relayhost=mx.primary.test")
    ctl("relay", "add", "known@backup.test")
    ctl("mailbox", "add", "alice@example.test", "alt=a.smith@example.test",
        "--password-stdin", input=password + "\n")
    ctl("mailbox", "add", "bob@example.test", "--password-stdin",
        input=password + "\n")
    ctl("mailbox", "add", "carol@example.test", "state=disabled",
        "--password-stdin", input=password + "\n")
    ctl("mailbox", "add", "dave@example.test", "state=suspended",
        "--password-stdin", input=password + "\n")
    ctl("alias", "add", "team@example.test", "alice@example.test",
        "bob@example.test")
    return ctl


def queue_files(inst, subdir="incoming"):
    """Paths of the queue files in queue_directory/subdir (hashed)."""
    top = os.path.join(inst.queue_dir, subdir)
    found = []
    for root, _dirs, files in os.walk(top):
        for name in files:
            found.append(os.path.join(root, name))
    return sorted(found)


def read_queue_file(path):
    """Parse a queue file (ispmail-queue(5)) into a dict: envelope fields,
    recipients (list of dicts with state), message bytes."""
    with open(path, "rb") as f:
        data = f.read()
    assert data.startswith(b"ISPMAIL-QUEUE 1\n"), data[:40]
    pos = len(b"ISPMAIL-QUEUE 1\n")
    out = {"rcpts": [], "results": []}

    def fields(line):
        rec = {}
        for part in line.split(b"\t")[1:]:
            name, _, value = part.partition(b"=")
            rec[name.decode()] = harness.attr_decode_value(
                value.decode("latin-1"))
        return rec

    while True:
        nl = data.index(b"\n", pos)
        line = data[pos:nl]
        pos = nl + 1
        if line.startswith(b"S "):
            out["state"] = chr(line[2])
        elif line.startswith(b"E\t"):
            out.update(fields(line))
        elif line.startswith(b"R "):
            rec = fields(line)
            rec["state"] = chr(line[2])
            out["rcpts"].append(rec)
        elif line.startswith(b"M\t"):
            size = int(fields(line)["size"])
            out["message"] = data[pos:pos + size]
            pos += size
            break
        else:
            raise AssertionError("unexpected record %r" % line)
    nl = data.index(b"\n", pos)
    out["trailer"] = data[pos:nl]
    return out


def split_received(message):
    """(received header bytes, rest) of a queued message."""
    m = re.match(rb"(Received: .*?\r\n(?:\t.*?\r\n)*)", message, re.S)
    assert m, message[:200]
    return m.group(1), message[m.end():]


# -- the whole delivery path: smtpd -> qmgr -> smtp (LMTP) -> lmtpd ----------

def delivery_services(lmtp_port, maxproc=4, extra_lmtpd=()):
    """smtpd (mx, submission), qmgr, the LMTP agent and lmtpd on
    127.0.0.1:lmtp_port (None: no lmtpd, the store host is down)."""
    services = smtpd_services(maxproc=maxproc)[:2]
    services.append(harness.Service(
        "qmgr", "qmgr/qmgr", type="unix", listen="private/qmgr", maxproc=1,
        options={"service_keep_running": "yes"}))
    services.append(harness.Service(
        "lmtp", "smtp/smtp", type="unix", listen="private/lmtp",
        maxproc=maxproc))
    if lmtp_port is not None:
        services.append(lmtpd_service("lmtpd", lmtp_port, maxproc))
    services.extend(extra_lmtpd)
    return services


def lmtpd_service(name, port, maxproc=4, options=None):
    return harness.Service(name, "lmtpd/lmtpd",
                           listen="127.0.0.1:%d" % port, maxproc=maxproc,
                           options=options)


def submission_system(make_instance, certs, params):
    """An instance with delivery_services (plaintext AUTH allowed on its
    submission service), params on top of delivery_params, provisioned."""
    port = harness.free_port()
    inst = make_instance(services=delivery_services(port))
    inst.services[1].options = dict(inst.services[1].options,
                                    auth_allow_plaintext="yes")
    inst.params.update(delivery_params(inst, certs, port))
    inst.params.update(params)
    inst.write_main_conf()
    provision(inst)
    return inst


def delivery_params(inst, certs, lmtp_port):
    params = base_params(inst, certs)
    params.update({
        "lmtp_local_nexthop": "127.0.0.1:%d" % lmtp_port,
        "queue_run_delay": "1s",
        "minimal_backoff": "1s",
        "maximal_backoff": "2s",
        "smtp_connect_timeout": "2s",
        "service_throttle_time": "1s",
    })
    return params


def mailbox_dir(inst, address, folder=None):
    local, domain = address.split("@")
    top = os.path.join(inst.store_dir, domain, local)
    if folder:
        top = os.path.join(top, "." + folder)
    return top


def maildir_messages(inst, address, folder=None):
    """[bytes] of the messages in a mailbox's new/ and cur/, by name."""
    top = mailbox_dir(inst, address, folder)
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(top, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
    return out


def wait_messages(inst, address, count, timeout=20.0, folder=None):
    deadline = time.monotonic() + timeout
    while True:
        msgs = maildir_messages(inst, address, folder)
        if len(msgs) >= count:
            return msgs
        if time.monotonic() > deadline:
            raise AssertionError(
                "%s has %d messages, expected %d; queue:\n%s\nlog:\n%s"
                % (address, len(msgs), count,
                   inst.ctl("queue", "list").stdout, inst.log()[-4000:]))
        time.sleep(0.1)


def queue_empty(inst):
    for sub in ("incoming", "active", "deferred"):
        if queue_files(inst, sub):
            return False
    return True
