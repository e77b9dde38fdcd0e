## common/global: what every part of the mail system shares (the
## parameter table, the service skeleton and master protocol, queue files,
## the anvil client).  Included by Makefile.am.
common_libispmail_a_SOURCES += \
	common/global/mail_params.c common/global/mail_params.h \
	common/global/service.c common/global/service.h \
	common/global/master_proto.h \
	common/global/qfile.c common/global/qfile.h \
	common/global/qfile_update.c \
	common/global/anvil_client.c common/global/anvil_client.h
