"""pytest fixtures for the integration tests (see harness.py).

instance_factory(services, params) returns a started Instance; make_instance
the same without starting it.  Every instance is closed when the test ends
(master stopped, leftover processes killed, directory removed), and when a
test fails its report gets each instance's master log.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for inst in getattr(item, "_ispmail_instances", []):
        report.sections.append(
            ("ispmail-master log (%s)" % inst.dir, inst.log() or "(empty)"))


def _make(request, started):
    instances = []
    request.node._ispmail_instances = instances

    def make(services=(), params=None, **kwargs):
        inst = harness.Instance(services, params, **kwargs)
        instances.append(inst)
        if started:
            inst.start()
        return inst

    return make, instances


@pytest.fixture
def make_instance(request):
    """An Instance factory; call inst.start() yourself."""
    make, instances = _make(request, started=False)
    yield make
    for inst in instances:
        inst.close()


@pytest.fixture
def instance_factory(request):
    """A factory for started Instances."""
    make, instances = _make(request, started=True)
    yield make
    for inst in instances:
        inst.close()


@pytest.fixture
def require_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: the master drops service processes to "
                    "another user only when it runs as root")
