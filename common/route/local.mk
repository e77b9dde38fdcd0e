## common/route: the routing directory (file and LDAP backends) and SASL.
## Included by Makefile.am.
common_libispmail_a_SOURCES += \
	common/route/route.c common/route/route.h common/route/route_backend.h \
	common/route/route_file.c common/route/route_ldap.c \
	common/route/route_ldap_conn.c common/route/route_ldap_entry.c \
	common/route/route_ldap_write.c common/route/route_ldap_int.h \
	common/route/sasl.c common/route/sasl.h
