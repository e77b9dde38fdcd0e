## common/route: the routing directory (file and LDAP backends) and SASL.
## Included by Makefile.am.
common_libispmail_a_SOURCES += \
	common/route/route.c common/route/route.h common/route/route_backend.h \
	common/route/route_int.h common/route/route_expand.c \
	common/route/route_auth.c common/route/route_provision.c \
	common/route/crypt_scratch.c common/route/crypt_scratch.h \
	common/route/route_file.c common/route/route_file_int.h \
	common/route/route_file_table.c common/route/route_file_parse.c \
	common/route/route_file_write.c common/route/route_ldap.c \
	common/route/route_ldap_cache.c \
	common/route/route_ldap_conn.c common/route/route_ldap_entry.c \
	common/route/route_ldap_write.c common/route/route_ldap_int.h \
	common/route/sasl.c common/route/sasl.h
