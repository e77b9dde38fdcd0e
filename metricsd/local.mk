## metricsd: built by the top-level Makefile.am (non-recursive).
pkglibexec_PROGRAMS += metricsd/metricsd
metricsd_metricsd_SOURCES = metricsd/metricsd.c
metricsd_metricsd_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
metricsd_metricsd_LDADD = $(LIBISPMAIL) $(MHD_LIBS)
metricsd_metricsd_DEPENDENCIES = common/libispmail.a

dist_man8_MANS += man/metricsd.8
EXTRA_DIST += tests/integration/test_metrics.py
EXTRA_DIST += conf/grafana/ispmail.json
EXTRA_DIST += tests/integration/test_check.py
EXTRA_DIST += tests/integration/test_baseline.py
