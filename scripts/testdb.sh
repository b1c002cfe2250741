#!/usr/bin/env bash
# scripts/testdb.sh — install and start the PostgreSQL 15 + pgvector cluster
# that the integration tests use, on Debian 12 (bookworm). Idempotent: a second
# run reuses the packages, the pgvector build and the running cluster.
#
# Usage:
#   scripts/testdb.sh          install what is missing, start the cluster, print its URL
#   scripts/testdb.sh url      print the connection URL only (no side effects)
#   scripts/testdb.sh stop     stop the cluster
#
# Environment:
#   RECS_PGDATA   data directory          (default /var/tmp/recs-pgdata)
#   RECS_PGPORT   TCP port on 127.0.0.1   (default 55432)
#   RECS_PG_HUGE_PAGES  1 (default): as root, reserve the kernel huge pages
#                 the cluster's shared memory needs (vm.nr_hugepages, kept
#                 until reboot: about 384 MB of RAM); 0: leave the kernel be
#
# The log file (recs-pg.log) and the unix socket directory (recs-pgsock) live
# next to the data directory.
#
# THIS IS A TEST-ONLY CLUSTER: it trusts every local connection and runs with
# fsync off. Never point it at data you want to keep.
set -euo pipefail

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin # never rely on PATH: /usr/local/bin/pg_ctl may be something else
PG_CONFIG=${PG_BIN}/pg_config
PGDATA=${RECS_PGDATA:-/var/tmp/recs-pgdata}
PGPORT=${RECS_PGPORT:-55432}
PGDATA=${PGDATA%/}
case $PGDATA in /*) ;; *) PGDATA=$PWD/$PGDATA ;; esac
PG_PARENT=$(dirname -- "$PGDATA")
PG_LOG=${PG_PARENT}/recs-pg.log
PG_SOCKDIR=${PG_PARENT}/recs-pgsock
DB_USER=recs
DB_NAME=recs_test
URL="postgres://${DB_USER}@127.0.0.1:${PGPORT}/${DB_NAME}?sslmode=disable"
APT_SRC_FILE=/etc/apt/sources.list.d/recs-trixie-src.sources
VECTOR_CONTROL=/usr/share/postgresql/${PG_MAJOR}/extension/vector.control
VECTOR_SO=/usr/lib/postgresql/${PG_MAJOR}/lib/vector.so
LOCK_FILE=${PGDATA}.lock

log() { printf 'testdb: %s\n' "$*" >&2; }
die() {
	printf 'testdb: error: %s\n' "$*" >&2
	exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# The OS user that owns the cluster: postgres when we are root (initdb and
# pg_ctl refuse to run as root), otherwise whoever runs the script.
if is_root; then PG_OS_USER=postgres; else PG_OS_USER=$(id -un); fi

# fd 9 (the run lock) is closed so a server started here does not inherit it.
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@" 9>&-
	else
		"$@" 9>&-
	fi
}

# Run a noisy command with its output in a temp log; show the tail on failure.
quiet() {
	local desc=$1
	shift
	local out
	out=$(mktemp /tmp/recs-testdb.XXXXXX.log)
	if ! "$@" >"$out" 2>&1 </dev/null; then
		printf 'testdb: error: %s failed (%s); last lines of its output:\n' "$desc" "$*" >&2
		tail -n 40 "$out" >&2
		rm -f "$out"
		exit 1
	fi
	rm -f "$out"
}

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need_root_for() {
	is_root || die "$1 needs root (run this script as root, or install it by hand first)"
}

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# ---------------------------------------------------------------- packages ---
install_packages() {
	local pkgs=("postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev)
	local missing=() p
	for p in "${pkgs[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		log "debian packages present"
		return
	fi
	need_root_for "installing ${missing[*]}"
	log "installing ${missing[*]}"
	quiet "apt-get update" apt-get update -q -o DPkg::Lock::Timeout=300
	quiet "apt-get install" apt-get install "${APT_OPTS[@]}" --no-install-recommends "${missing[@]}"
	[ -x "${PG_BIN}/initdb" ] || die "${PG_BIN}/initdb missing after installing postgresql-${PG_MAJOR}"
}

# ---------------------------------------------------------------- pgvector ---
# Print "URI<TAB>SIGNED-BY" of the bookworm (not -security/-updates) entry of the
# configured apt sources. Deb822 (*.sources) first, then one-line (*.list).
bookworm_mirror() {
	local f found=""
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
		if [ ! -f "$f" ] || [ "$f" = "$APT_SRC_FILE" ]; then continue; fi
		found=$(awk '
			BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; suites = ""; signed = ""; enabled = "yes"
				for (i = 1; i <= NF; i++) {
					line = $i
					if (line ~ /^#/ || line ~ /^[ \t]/ || index(line, ":") == 0) continue
					key = tolower(substr(line, 1, index(line, ":") - 1))
					val = substr(line, index(line, ":") + 1)
					gsub(/^[ \t]+|[ \t]+$/, "", val)
					if (key == "types") types = val
					else if (key == "uris") uris = val
					else if (key == "suites") suites = val
					else if (key == "signed-by") signed = val
					else if (key == "enabled") enabled = tolower(val)
				}
				if (enabled == "no" || (" " types " ") !~ /[ \t]deb[ \t]/) next
				n = split(suites, s, /[ \t]+/)
				for (j = 1; j <= n; j++) if (s[j] == "bookworm") {
					split(uris, u, /[ \t]+/)
					print u[1] "\t" signed
					exit
				}
			}' "$f")
		[ -n "$found" ] && break
	done
	if [ -z "$found" ]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			found=$(awk '
				{ sub(/#.*/, "") }
				$1 != "deb" { next }
				{
					signed = ""; i = 2
					if ($2 ~ /^\[/) {
						while (i <= NF) {
							opt = $i; gsub(/[][]/, "", opt)
							if (opt ~ /^signed-by=/) { signed = substr(opt, 11) }
							if ($i ~ /\]$/) { i++; break }
							i++
						}
					}
					if ($(i + 1) == "bookworm") { print $i "\t" signed; exit }
				}' "$f")
			[ -n "$found" ] && break
		done
	fi
	[ -n "$found" ] || return 1
	printf '%s\n' "$found"
}

install_pgvector() {
	if [ -f "$VECTOR_CONTROL" ] && [ -f "$VECTOR_SO" ]; then
		log "pgvector present ($(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$VECTOR_CONTROL"))"
		return
	fi
	need_root_for "building pgvector"

	local mirror uri signed content
	mirror=$(bookworm_mirror) || die "no 'deb ... bookworm' entry found in /etc/apt/sources.list{,.d/} to reuse for trixie sources"
	uri=${mirror%%$'\t'*}
	signed=${mirror#*$'\t'}
	content="# Added by recs scripts/testdb.sh: source packages only (pgvector is not in bookworm).
# deb-src entries never make apt install trixie binaries.
Types: deb-src
URIs: ${uri}
Suites: trixie
Components: main"
	# Only a single-line Signed-By (a keyring path or fingerprints) can be copied.
	if [ -n "$signed" ]; then content+=$'\n'"Signed-By: ${signed}"; fi
	if [ ! -f "$APT_SRC_FILE" ] || [ "$(cat "$APT_SRC_FILE")" != "$content" ]; then
		log "adding trixie deb-src (${uri}) in ${APT_SRC_FILE}"
		printf '%s\n' "$content" >"$APT_SRC_FILE"
	fi
	# Refresh only this source's index; the bookworm lists are left untouched.
	log "apt-get update (trixie sources)"
	quiet "apt-get update of ${APT_SRC_FILE}" apt-get update -q -o DPkg::Lock::Timeout=300 \
		-o Dir::Etc::SourceList="$APT_SRC_FILE" -o Dir::Etc::SourceParts=- \
		-o APT::Get::List-Cleanup=0

	local tmp
	tmp=$(mktemp -d /tmp/recs-pgvector.XXXXXX)
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	chmod 755 "$tmp" # lets apt's _apt user write the download (avoids the "unsandboxed" warning)
	log "downloading pgvector source from trixie"
	(cd "$tmp" && quiet "apt-get source pgvector" apt-get source -q --download-only pgvector/trixie)
	local dsc
	dsc=$(find "$tmp" -maxdepth 1 -name 'pgvector_*.dsc' | head -n 1)
	[ -n "$dsc" ] || die "apt-get source pgvector did not produce a .dsc in $tmp"
	quiet "dpkg-source -x" dpkg-source -x "$dsc" "$tmp/src"
	# OPTFLAGS= : no -march=native, so the module also loads on another CPU model.
	log "building pgvector $(basename "$dsc" .dsc | sed 's/^pgvector_//')"
	quiet "make pgvector" make -C "$tmp/src" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS=
	quiet "make install pgvector" make -C "$tmp/src" install PG_CONFIG="$PG_CONFIG" OPTFLAGS=
	rm -rf "$tmp"
	trap - EXIT
	[ -f "$VECTOR_CONTROL" ] || die "pgvector built but $VECTOR_CONTROL is still missing"
}

# ----------------------------------------------------------------- cluster ---
pg_running() { as_pg "${PG_BIN}/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }
pg_ready() { "${PG_BIN}/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -t 2 </dev/null; }

psql_admin() {
	# Trust auth on 127.0.0.1 (see init_cluster), so no password is needed.
	"${PG_BIN}/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@" </dev/null
}

init_cluster() {
	if is_root; then
		install -d -o postgres -g postgres -m 0755 "$PG_SOCKDIR"
	else
		mkdir -p "$PG_SOCKDIR"
	fi
	if [ -f "$PGDATA/PG_VERSION" ]; then
		local v
		v=$(cat "$PGDATA/PG_VERSION")
		[ "$v" = "$PG_MAJOR" ] || die "$PGDATA holds a PostgreSQL $v cluster, expected $PG_MAJOR (remove it or set RECS_PGDATA)"
		log "cluster present in $PGDATA"
	else
		if [ -e "$PGDATA" ] && [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
			die "$PGDATA exists, is not empty and has no PG_VERSION; remove it or set RECS_PGDATA"
		fi
		log "initdb $PGDATA"
		if is_root; then
			install -d -o postgres -g postgres -m 0700 "$PGDATA"
		else
			mkdir -p "$PGDATA"
			chmod 0700 "$PGDATA"
		fi
		# --auth=trust: test-only cluster, reachable only on 127.0.0.1 and its
		# unix socket; no passwords so the tests can connect with a plain URL.
		quiet "initdb" as_pg "${PG_BIN}/initdb" -D "$PGDATA" -U postgres \
			--auth=trust --encoding=UTF8 --locale=C.UTF-8
	fi

	# Test cluster only: durability is not needed, so trade it for speed.
	local conf
	conf="# Written by recs scripts/testdb.sh (test cluster only, durability not needed).
listen_addresses = '127.0.0.1'
port = ${PGPORT}
unix_socket_directories = '${PG_SOCKDIR}'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
huge_pages = try
max_connections = 200"
	CONF_CHANGED=0
	if [ ! -f "$PGDATA/recs-test.conf" ] || [ "$(cat "$PGDATA/recs-test.conf")" != "$conf" ]; then
		printf '%s\n' "$conf" >"$PGDATA/recs-test.conf"
		chown "$PG_OS_USER" "$PGDATA/recs-test.conf"
		CONF_CHANGED=1
	fi
	if ! grep -q "^include_if_exists = 'recs-test.conf'" "$PGDATA/postgresql.conf"; then
		printf "\ninclude_if_exists = 'recs-test.conf'\n" >>"$PGDATA/postgresql.conf"
		CONF_CHANGED=1
	fi
}

# Huge pages for the shared memory. Without them every backend maps each
# 8 KB buffer it touches with its own page faults (about 60 us a page on
# the README's VM): with 1,000,000 items, whose index and tables are read
# by 34 backends, the cold start's PostgreSQL took 1.1-1.3 cores and p99
# was 121-391 ms; on huge pages, 0.62 cores and 36-43 ms. PostgreSQL uses
# them when the kernel has enough reserved (huge_pages = try), so this
# reserves them: 192 pages of 2 MB cover 256 MB of shared_buffers and the
# rest of its shared memory (about 290 MB).
HUGE_PAGES_WANTED=192
reserve_huge_pages() {
	[ "${RECS_PG_HUGE_PAGES:-1}" = 1 ] || return 0
	local f=/proc/sys/vm/nr_hugepages have size
	size=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo 2>/dev/null || true)
	if ! is_root || [ ! -w "$f" ] || [ "$size" != 2048 ]; then
		log "no huge pages reserved (needs root and 2 MB pages); the cluster runs on normal pages"
		return 0
	fi
	have=$(cat "$f")
	if [ "$have" -lt "$HUGE_PAGES_WANTED" ]; then
		if echo "$HUGE_PAGES_WANTED" >"$f" 2>/dev/null && [ "$(cat "$f")" -ge "$HUGE_PAGES_WANTED" ]; then
			log "reserved $HUGE_PAGES_WANTED huge pages of 2 MB (vm.nr_hugepages was $have)"
		else
			echo "$have" >"$f" 2>/dev/null || true
			log "could not reserve $HUGE_PAGES_WANTED huge pages; the cluster runs on normal pages"
		fi
	fi
}

# A postmaster.pid left by a killed server (e.g. a machine restart) whose PID
# now belongs to some unrelated process makes the postmaster refuse to start.
clear_stale_pidfile() {
	local pidfile=$PGDATA/postmaster.pid pid
	[ -f "$pidfile" ] || return 0
	pid=$(head -n 1 "$pidfile")
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
		return 0
	fi
	log "removing stale $pidfile (pid $pid is not a postgres process)"
	rm -f "$pidfile"
}

start_cluster() {
	if is_root; then
		touch "$PG_LOG"
		chown postgres "$PG_LOG"
	fi
	if pg_running && pg_ready; then
		if [ "$CONF_CHANGED" = 1 ]; then
			log "settings changed: restarting cluster"
			quiet "pg_ctl restart" as_pg "${PG_BIN}/pg_ctl" restart -D "$PGDATA" -l "$PG_LOG" -m fast -w -t 30
		else
			log "cluster already running on 127.0.0.1:$PGPORT"
		fi
	elif pg_ready; then
		die "something else already listens on 127.0.0.1:$PGPORT (set RECS_PGPORT)"
	else
		clear_stale_pidfile
		if pg_running; then
			log "cluster process exists but is not accepting connections yet; waiting"
		else
			log "starting cluster on 127.0.0.1:$PGPORT (log: $PG_LOG)"
			if ! as_pg "${PG_BIN}/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 30 >/dev/null 2>&1 </dev/null; then
				printf 'testdb: error: pg_ctl start failed; last lines of %s:\n' "$PG_LOG" >&2
				tail -n 20 "$PG_LOG" >&2
				exit 1
			fi
		fi
	fi
	local i
	for ((i = 0; i < 30; i++)); do
		pg_ready && return 0
		sleep 1
	done
	die "cluster not ready on 127.0.0.1:$PGPORT after 30 s (see $PG_LOG)"
}

setup_database() {
	if [ "$(psql_admin -Atc "SELECT 1 FROM pg_roles WHERE rolname = '${DB_USER}'")" != 1 ]; then
		log "creating role ${DB_USER}"
		# Superuser: the tests run CREATE EXTENSION themselves.
		psql_admin -c "CREATE ROLE ${DB_USER} LOGIN SUPERUSER"
	fi
	if [ "$(psql_admin -Atc "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'")" != 1 ]; then
		log "creating database ${DB_NAME}"
		psql_admin -c "CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}"
	fi
	local ver
	ver=$("${PG_BIN}/psql" -X -q -v ON_ERROR_STOP=1 "$URL" -Atc \
		"SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector; SELECT extversion FROM pg_extension WHERE extname = 'vector'" </dev/null) ||
		die "CREATE EXTENSION vector failed in ${DB_NAME}"
	log "extension vector ${ver} enabled in ${DB_NAME}"
}

stop_cluster() {
	if [ ! -f "$PGDATA/PG_VERSION" ]; then
		log "no cluster in $PGDATA"
		return
	fi
	if pg_running; then
		quiet "pg_ctl stop" as_pg "${PG_BIN}/pg_ctl" stop -D "$PGDATA" -m fast -w -t 30
		log "cluster stopped"
	else
		log "cluster not running"
	fi
}

take_lock() {
	exec 9>>"$LOCK_FILE"
	flock -w 600 9 || die "another testdb.sh run holds $LOCK_FILE"
}

main() {
	case "${1:-}" in
	url)
		printf '%s\n' "$URL"
		return
		;;
	stop)
		[ -x "${PG_BIN}/pg_ctl" ] || die "${PG_BIN}/pg_ctl not found"
		take_lock
		cd /
		stop_cluster
		return
		;;
	"" | start) ;;
	*) die "unknown command '$1' (usage: $0 [start|url|stop])" ;;
	esac

	take_lock
	# The postgres user may not be able to enter the caller's cwd (e.g. /root).
	cd /
	install_packages
	install_pgvector
	init_cluster
	reserve_huge_pages
	start_cluster
	setup_database
	printf 'testdb: ready at %s\n' "$URL"
}

main "$@"
