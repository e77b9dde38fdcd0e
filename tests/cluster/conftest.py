"""One cluster for the whole run (building it takes a while): every test
gets it with what earlier tests killed or partitioned restored, and the
cluster is removed at the end even when a test failed.  The scenario
table goes to $CLUSTER_RESULTS as JSON."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import clusterutil  # noqa: E402

RESULTS = {}


@pytest.fixture(scope="session")
def cluster_session():
    why = clusterutil.precondition_error()
    if why is not None:
        pytest.fail("cluster tests cannot run: " + why, pytrace=False)
    c = clusterutil.Cluster()
    path = os.environ.get("CLUSTER_RESULTS") or os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "ispmail-cluster-results.json")
    reports = []
    try:
        c.up()
        yield c
    finally:
        reports = c.sanitizer_reports()
        # The hosts' logs stay next to the results for a post-mortem.
        c.down(keep_logs=path + ".logs")
        if RESULTS:
            with open(path, "w") as f:
                json.dump(RESULTS, f, indent=1, sort_keys=True)
            print("\ncluster: scenario results in %s, logs in %s.logs"
                  % (path, path))
    if reports:
        pytest.fail("sanitizer reports in the hosts' logs:\n"
                    + "\n".join(reports[:50]), pytrace=False)


@pytest.fixture
def cluster(cluster_session):
    try:
        yield cluster_session
    finally:
        cluster_session.restore()


@pytest.fixture
def results():
    return RESULTS
