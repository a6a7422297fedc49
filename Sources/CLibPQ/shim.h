// libpq, PostgreSQL's C client library, from Debian's libpq-dev (headers in /usr/include/postgresql).
#include <libpq-fe.h>
