"""Every test of test_imapd.py again with imap_client_limit 1: a process
per session, the model before several sessions per process became the
default, still supported and still correct."""

import pytest

from test_imapd import *  # noqa: F401,F403  (re-run in this mode)


@pytest.fixture
def make_instance(make_instance):
    """conftest's factory, with one session per imapd process."""
    def make(services=(), params=None, **kwargs):
        p = dict(params or {})
        p.setdefault("imap_client_limit", "1")
        return make_instance(services=services, params=p, **kwargs)
    return make
