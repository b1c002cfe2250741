package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pgBin is where scripts/testdb.sh installs PostgreSQL 15 (Debian's
// postgresql-15), with pgvector built for it; RECS_PG_BIN overrides.
const pgBin = "/usr/lib/postgresql/15/bin"

// Cluster is a private, throwaway PostgreSQL server for tests that must
// stop and start the database (outages), which the shared test cluster
// must never be put through. It uses the binaries and the pgvector that
// scripts/testdb.sh installed, runs as the postgres OS user when the test
// runs as root (initdb and the server refuse root), and is removed when
// the test ends.
type Cluster struct {
	t        testing.TB
	bin, dir string
	port     int
	asUser   string // run the server's commands as this OS user ("" = as the test)
}

// StartCluster initialises and starts a private cluster on a free port.
// Without the binaries the test is skipped, unless RECS_TEST_REQUIRE_DB=1
// makes that a failure.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := pgBin
	if b := os.Getenv("RECS_PG_BIN"); b != "" {
		bin = b
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		if os.Getenv("RECS_TEST_REQUIRE_DB") == "1" {
			t.Fatalf("no PostgreSQL binaries in %s but RECS_TEST_REQUIRE_DB=1: run scripts/testdb.sh (or `make test`), which installs them", bin)
		}
		t.Skipf("no PostgreSQL binaries in %s; `make test` installs them and runs this", bin)
	}
	c := &Cluster{t: t, bin: bin}
	dir, err := os.MkdirTemp("", "recs-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(c.remove)
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		u, err := user.Lookup(c.asUser)
		if err != nil {
			t.Fatalf("running as root needs the postgres OS user (scripts/testdb.sh installs it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.port = freePort(t)
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	// Commits are flushed to the WAL before they are acknowledged (the
	// default synchronous_commit), so a crash of the server loses nothing
	// acknowledged; fsync is off only because the OS is not what we crash.
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"fsync = off\nfull_page_writes = off\nshared_buffers = 32MB\nmax_connections = 60\n", c.port, dir)
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("configure the private cluster: %v", err)
	}
	c.Start()
	return c
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// URL connects as the superuser to the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server (after a crash: with recovery) and waits until
// it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.run("pg_ctl", "start", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60")
}

// Crash stops the server at once, as a crash would: no checkpoint, every
// connection cut ("immediate" shutdown).
func (c *Cluster) Crash() {
	c.t.Helper()
	c.run("pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w", "-t", "60")
}

// command runs one of the server's programs, as its OS user.
func (c *Cluster) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, prog)
	cmd := exec.Command(path, args...)
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	}
	cmd.Dir = c.dir
	return cmd
}

func (c *Cluster) run(prog string, args ...string) {
	c.t.Helper()
	out, err := c.command(prog, args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("%s %s: %v\n%s\nserver log:\n%s", prog, strings.Join(args, " "), err, out, log)
	}
}

func (c *Cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		c.command("pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w").Run()
	}
	os.RemoveAll(c.dir)
}
