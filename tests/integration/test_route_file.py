"""Provisioning and resolving with the file backend (the embedded default).

The same operator workflow as test_route_ldap.py, against the text map of
ispmail-routes(5): ispmailctl writes the map, `ispmailctl route` and
`ispmailctl auth` read it, as every daemon will through route_lookup().
"""

import os
import re
import stat
import subprocess
import pwd

import pytest

import harness

TEMPFAIL = 75   # CTL_EXIT_TEMPFAIL (EX_TEMPFAIL)


@pytest.fixture
def ctl(make_instance, tmp_path):
    inst = make_instance(params={
        "route_backend": "file",
        "store_owner": harness.current_user() if os.geteuid() != 0
        else "nobody",
        "route_file_check_interval": "0",
    })
    inst.write_main_conf()
    routes = os.path.join(inst.config_dir, "routes")
    open(routes, "w").close()

    def run(*args, input=None, expect=0):
        result = inst.ctl(*args, input=input)
        if expect is not None:
            assert result.returncode == expect, (
                "ispmailctl %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
                % (" ".join(args), result.returncode, expect, result.stdout,
                   result.stderr))
        return result

    run.instance = inst
    run.routes = routes
    return run


def provision(ctl):
    ctl("domain", "add", "example.test")
    ctl("domain", "add", "alias.test", "alias", "target=example.test")
    ctl("domain", "add", "backup.test", "relay", "relayhost=mx.primary.test")
    ctl("mailbox", "add", "alice@example.test", "alt=a.smith@example.test",
        "quota=1048576", "--password-stdin", input="alice-secret\n")
    ctl("mailbox", "add", "bob@example.test", "filter=aggressive",
        "archive=yes", "class=bulk", "--password-stdin", input="bob-pw\n")
    ctl("alias", "add", "sales@example.test", "alice@example.test",
        "partner@remote.test")
    ctl("relay", "add", "known@backup.test")


def deliveries(output):
    return re.findall(r"^  deliver: (\S+) (.*)$", output, re.M)


def test_route_resolves_every_kind(ctl):
    provision(ctl)
    store = ctl.instance.store_dir
    out = ctl("route", "alice@example.test").stdout
    assert "domain example.test: local" in out
    assert deliveries(out) == [("alice@example.test", "mailbox host=localhost "
        "path=%s/example.test/alice quota=1048576 state=active "
        "policy=standard archive=no class=default" % store)]
    for alias in ("Alice@EXAMPLE.test", "a.smith@example.test",
                  "alice+news@example.test", "alice@alias.test"):
        assert deliveries(ctl("route", alias).stdout)[0][0] == \
            "alice@example.test", alias
    assert "policy=aggressive archive=yes class=bulk" in \
        ctl("route", "bob@example.test").stdout
    out = ctl("route", "sales@example.test").stdout
    assert sorted(d[0] for d in deliveries(out)) == [
        "alice@example.test", "partner@remote.test"]
    out = ctl("route", "known@backup.test").stdout
    assert deliveries(out) == [("known@backup.test",
                                "relay to mx.primary.test")]
    assert "unknown" in ctl("route", "nobody@example.test", expect=1).stdout
    assert "unknown" in ctl("route", "stranger@backup.test", expect=1).stdout
    assert "not ours" in ctl("route", "someone@elsewhere.test").stdout


def test_catchall_and_alias_loops(ctl):
    provision(ctl)
    ctl("domain", "set", "example.test", "catchall=alice@example.test")
    out = ctl("route", "whoever@example.test").stdout
    assert deliveries(out)[0][0] == "alice@example.test"
    ctl("alias", "add", "a@example.test", "b@example.test")
    ctl("alias", "add", "b@example.test", "a@example.test")
    out = ctl("route", "a@example.test", expect=1).stdout
    assert "routing loop" in out


def test_forward_with_and_without_copy(ctl):
    provision(ctl)
    ctl("forward", "add", "bob@example.test", "bob@remote.test")
    out = ctl("route", "bob@example.test").stdout
    assert [d[0] for d in deliveries(out)] == ["bob@remote.test"]
    ctl("forward", "add", "bob@example.test", "bob2@remote.test", "--keep")
    out = ctl("route", "bob@example.test").stdout
    assert sorted(d[0] for d in deliveries(out)) == [
        "bob2@remote.test", "bob@example.test", "bob@remote.test"]
    assert ctl("forward", "list", "example.test").stdout.splitlines() == [
        "bob@example.test -> bob@remote.test,bob2@remote.test (keep copy)"]
    # set replaces the targets (and the copy flag) where add appends.
    ctl("forward", "set", "bob@example.test", "only@remote.test")
    out = ctl("route", "bob@example.test").stdout
    assert [d[0] for d in deliveries(out)] == ["only@remote.test"]
    ctl("forward", "del", "bob@example.test")
    out = ctl("route", "bob@example.test").stdout
    assert [d[0] for d in deliveries(out)] == ["bob@example.test"]
    assert ctl("forward", "list", "example.test").stdout == ""
    ctl("forward", "show", "nobody@example.test", expect=1)


def test_show_set_list_and_delete(ctl):
    provision(ctl)
    out = ctl("mailbox", "show", "alice@example.test").stdout
    assert "alt: a.smith@example.test" in out and "password: set" in out
    ctl("mailbox", "set", "alice@example.test", "state=suspended", "quota=2M")
    out = ctl("mailbox", "show", "alice@example.test").stdout
    assert "state: suspended" in out and "quota: 2097152" in out
    assert ctl("domain", "list").stdout.split() == [
        "alias.test", "backup.test", "example.test"]
    assert ctl("mailbox", "list", "example.test").stdout.split() == [
        "alice@example.test", "bob@example.test"]
    assert ctl("alias", "list", "example.test").stdout.split() == [
        "sales@example.test"]
    assert ctl("relay", "list", "backup.test").stdout.split() == [
        "known@backup.test"]
    ctl("domain", "del", "example.test", expect=1)
    ctl("alias", "del", "sales@example.test")
    ctl("mailbox", "del", "bob@example.test")
    ctl("mailbox", "del", "alice@example.test")
    ctl("domain", "del", "alias.test")
    ctl("domain", "del", "example.test")
    assert ctl("domain", "list").stdout.split() == ["backup.test"]
    # Written atomically: no temporary file is left beside the map.
    leftovers = [n for n in os.listdir(os.path.dirname(ctl.routes))
                 if n.startswith("routes") and n not in ("routes",
                                                         "routes.lock")]
    assert leftovers == []


def test_bad_input_is_refused_clearly(ctl):
    provision(ctl)
    cases = [
        (("domain", "add", "example.test"), 1, "exists"),
        (("mailbox", "add", "alice@example.test", "--no-store"), 1, "exists"),
        (("mailbox", "add", "carol@nosuch.test"), 1, "nosuch.test"),
        (("mailbox", "add", "x@backup.test"), 1, "relay domain"),
        (("mailbox", "add", "a..b@example.test"), 1, "invalid address"),
        (("mailbox", "add", "@example.test"), 1, "invalid address"),
        (("mailbox", "add", "x" * 70 + "@example.test"), 1, "too long"),
        (("mailbox", "add", "carol@example.test", "colour=red"), 2,
         "unknown mailbox setting"),
        (("mailbox", "add", "carol@example.test", "quota=5X"), 2,
         "bad quota"),
        (("mailbox", "del", "nobody@example.test"), 1, "no such mailbox"),
        (("domain", "del", "nosuch.test"), 1, "no such domain"),
        (("frobnicate",), 2, ""),
    ]
    for args, code, text in cases:
        result = ctl(*args, expect=code)
        assert text in result.stderr, (args, result.stderr)


def test_password_checks_and_account_states(ctl):
    provision(ctl)
    assert "authenticated" in ctl("auth", "alice@example.test",
                                  input="alice-secret\n").stdout
    out = ctl("auth", "alice@example.test", input="wrong\n", expect=1).stdout
    assert "refused: invalid credentials" in out
    out = ctl("auth", "nobody@example.test", input="x\n", expect=1).stdout
    assert "refused: invalid credentials" in out
    ctl("mailbox", "set", "bob@example.test", "state=suspended")
    out = ctl("auth", "bob@example.test", input="bob-pw\n", expect=1).stdout
    assert "account suspended" in out
    # A suspended mailbox still receives mail.
    assert deliveries(ctl("route", "bob@example.test").stdout)
    ctl("mailbox", "set", "bob@example.test", "state=disabled")
    out = ctl("auth", "bob@example.test", input="bob-pw\n", expect=1).stdout
    assert "account disabled" in out
    # The wrong password never reveals the account state.
    out = ctl("auth", "bob@example.test", input="nope\n", expect=1).stdout
    assert "invalid credentials" in out


def test_mailbox_store_is_created_and_removed_on_request(ctl):
    ctl("domain", "add", "example.test")
    ctl("mailbox", "add", "carol@example.test")
    path = os.path.join(ctl.instance.store_dir, "example.test", "carol")
    owner = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 \
        else os.geteuid()
    for sub in ("", "cur", "new", "tmp", ".Sent", ".Drafts/cur", ".Junk/new",
                ".Trash/tmp"):
        st = os.stat(os.path.join(path, sub))
        assert stat.S_ISDIR(st.st_mode), sub
        assert stat.S_IMODE(st.st_mode) == 0o700, sub
        assert st.st_uid == owner, sub
    assert os.path.exists(os.path.join(path, ".Junk", "maildirfolder"))
    with open(os.path.join(path, "maildirsize")) as f:
        assert f.readline().strip().endswith("S")

    ctl("mailbox", "add", "dave@example.test", "--no-store")
    ctl("mailbox", "add", "erin@example.test", "host=store9.example")
    for user in ("dave", "erin"):
        assert not os.path.exists(os.path.join(
            ctl.instance.store_dir, "example.test", user))

    ctl("mailbox", "del", "carol@example.test")
    assert os.path.isdir(path)          # plain del keeps the mail
    ctl("mailbox", "add", "carol@example.test")
    ctl("mailbox", "del", "carol@example.test", "--remove-store")
    assert not os.path.exists(path)


def test_concurrent_writers_all_land(ctl):
    ctl("domain", "add", "example.test")
    procs = []
    for w in range(4):
        script = "; ".join(
            "%s -c %s mailbox add u%d_%d@example.test --no-store >/dev/null"
            % (harness.CTL, ctl.instance.config_dir, w, i) for i in range(5))
        procs.append(subprocess.Popen(["sh", "-c", script]))
    for p in procs:
        assert p.wait(timeout=60) == 0
    names = ctl("mailbox", "list", "example.test").stdout.split()
    assert len(names) == 20


def test_broken_map_is_a_temporary_failure_then_recovers(ctl):
    provision(ctl)
    with open(ctl.routes) as f:
        good = f.read()
    with open(ctl.routes, "a") as f:
        f.write("bogus line here\n")
    result = ctl("route", "alice@example.test", expect=TEMPFAIL)
    assert "temporary failure" in result.stdout
    assert re.search(r"routes:\d+", result.stdout + result.stderr)
    assert "  unknown:" not in result.stdout   # never "user unknown"
    with open(ctl.routes + ".new", "w") as f:
        f.write(good)
    os.rename(ctl.routes + ".new", ctl.routes)
    assert deliveries(ctl("route", "alice@example.test").stdout)


def test_store_create_follows_no_symlink(ctl, require_root):
    """'mailbox add' as root on a store that already exists (the store
    owner controls it) must not chown or write through symlinks planted
    there: a store owner compromise must not become root."""
    inst = ctl.instance
    nobody = pwd.getpwnam("nobody")
    ctl("domain", "add", "example.test")
    top = os.path.join(inst.store_dir, "example.test", "mallory")
    os.makedirs(top)
    os.chown(top, nobody.pw_uid, nobody.pw_gid)
    # Root's files the store owner points at.
    victims = {}
    for name in ("cur", "maildirsize", "subscriptions"):
        victim = os.path.join(inst.dir, "root-" + name)
        with open(victim, "w") as f:
            f.write("root's\n")
        os.chmod(victim, 0o600)
        os.symlink(victim, os.path.join(top, name))
        victims[name] = victim
    rootdir = os.path.join(inst.dir, "root-dir")
    os.mkdir(rootdir, 0o700)
    os.symlink(rootdir, os.path.join(top, ".Sent"))
    for path in (top, *(os.path.join(top, n) for n in
                        ("cur", "maildirsize", "subscriptions", ".Sent"))):
        os.lchown(path, nobody.pw_uid, nobody.pw_gid)
    r = ctl("mailbox", "add", "mallory@example.test", expect=None)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "mallory/cur" in r.stderr, r.stderr
    for victim in (*victims.values(), rootdir):
        st = os.stat(victim)
        assert (st.st_uid, st.st_gid) == (0, 0), victim
    for victim in victims.values():
        assert open(victim).read() == "root's\n"
    assert os.listdir(rootdir) == []
    # A symlink the store owner makes higher up is refused as well.
    ctl("domain", "add", "other.test")
    other = os.path.join(inst.store_dir, "other.test")
    os.mkdir(other)
    os.chown(other, nobody.pw_uid, nobody.pw_gid)
    os.symlink(rootdir, os.path.join(other, "eve"))
    r = ctl("mailbox", "add", "eve@other.test", expect=None)
    assert r.returncode == 1, (r.stdout, r.stderr)
    st = os.stat(rootdir)
    assert (st.st_uid, st.st_gid) == (0, 0) and os.listdir(rootdir) == []


def test_provisioning_output_escaped(ctl):
    """A hand-edited map entry with terminal escapes and a raw CSI reaches
    'mailbox show', 'mailbox list' and 'route' escaped, never raw."""
    ctl("domain", "add", "example.test")
    with open(ctl.routes, "ab") as f:
        f.write(b"mailbox eve@example.test state=active quota=1G\n"
                b"    host=localhost path=/var/vmail/\x1b]0;owned\x07/\x1b[2J"
                b"eve\x9broot\n")
    outputs = [ctl("mailbox", "show", "eve@example.test").stdout,
               ctl("mailbox", "list", "example.test").stdout,
               ctl("route", "eve@example.test").stdout]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out, out
    assert "/var/vmail/\\x1b]0;owned\\x07/\\x1b[2Jeve\\x9broot" in outputs[0]
    assert "\\x1b[2Jeve\\x9broot" in outputs[2]
