"""The configuration files shipped in conf/ are valid: every master.conf
line names a known daemon and only known -o parameters, and main.conf
parses (checked with ispmail-master -t against the built daemons)."""

import os
import shutil
import subprocess

import harness

DAEMONS = {"smtpd": "smtpd/smtpd", "qmgr": "qmgr/qmgr", "smtp": "smtp/smtp",
           "lmtpd": "lmtpd/lmtpd", "popd": "popd/popd", "imapd": "imapd/imapd",
           "anvil": "anvil/anvil"}


def test_shipped_conf_is_valid(tmp_path):
    conf = os.path.join(harness.TOP_SRCDIR, "conf")
    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(os.path.join(conf, "main.conf"), cfg / "main.conf")
    user = harness.current_user()
    if user == "root":
        user = "nobody"     # services may not run as root by "-"/a name
    # The shipped file names the users a package creates; use ours.
    text = open(os.path.join(conf, "master.conf")).read()
    (cfg / "master.conf").write_text(text.replace(" vmail ", " %s " % user))
    daemons = tmp_path / "libexec"
    daemons.mkdir()
    for name, path in DAEMONS.items():
        os.symlink(os.path.join(harness.TOP_BUILDDIR, path), daemons / name)
    r = subprocess.run(
        [harness.MASTER, "-t", "-c", str(cfg), "-o", "mail_owner=" + user,
         "-o", "daemon_directory=%s" % daemons,
         "-o", "queue_directory=%s" % (tmp_path / "queue")],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    # Every daemon is in the shipped file.
    for name in DAEMONS:
        assert " %s" % name in text
