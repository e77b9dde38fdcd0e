## common/util: generic utilities with no mail knowledge (memory, capped
## buffers, logging, printable escapes, parameter files, file I/O, the
## attribute protocol).  Included by Makefile.am.
common_libispmail_a_SOURCES += \
	common/util/xalloc.c common/util/xalloc.h \
	common/util/buf.c common/util/buf.h \
	common/util/log.c common/util/log.h \
	common/util/printable.c common/util/printable.h \
	common/util/params.c common/util/params.h \
	common/util/fileio.c common/util/fileio.h \
	common/util/attr.c common/util/attr.h \
	common/util/hash.h common/util/siphash.c
