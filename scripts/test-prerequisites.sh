#!/usr/bin/env bash
# Installs the native pieces the tests use when they are missing: libpg_query (PostgreSQL's
# parser), the psql client and strace (Linux). On machines without apt (macOS) it says what it could
# not install; the tests then use the embedded PostgreSQL and the fallback classifier where they
# can, and fail where they must.
set -euo pipefail
need=()
ldconfig -p 2>/dev/null | grep -q 'libpg_query\.so' || [ -e /usr/lib/x86_64-linux-gnu/libpg_query.so ] || need+=(libpg-query-dev)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
# strace: a journal test watches the system calls of a child JVM (Linux only).
if [ "$(uname -s)" = Linux ] && ! command -v strace >/dev/null 2>&1; then need+=(strace); fi
[ ${#need[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  echo "run-tests: installing ${need[*]}" >&2
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "run-tests: cannot install ${need[*]} here (no apt-get); install them yourself for full coverage" >&2
fi
