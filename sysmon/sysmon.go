// Package sysmon keeps the Go runtime's system monitor from parking when
// the process goes idle (recs serve).
//
// Why: the runtime parks its monitor thread (sysmon) whenever every P is
// idle, and the next goroutine to enter a system call wakes it with a
// futex. A server at a moderate rate is idle between most requests, so
// nearly every request paid for that wake-up: at 2,000 req/s on the
// project's 2-vCPU VM it was 22 % of the server's CPU
// (runtime.entersyscallWakeSysmon under each request's first read), about
// 60 µs a request. The runtime does not park the monitor while a
// scheduler trace is requested (GODEBUG schedtrace=X, in milliseconds),
// so StayAwake asks for one every 2^31-1 ms (24.8 days), the longest
// period the runtime takes.
//
// The costs: while the process is idle the monitor wakes every 10 ms
// instead of sleeping; the runtime writes one line of scheduler state to
// standard error every 24.8 days of the machine's uptime (so once at start
// on a machine up longer than that), and a detailed one if the process
// crashes.
package sysmon

import (
	"os"
	"strings"
	"syscall"
)

// Setting is the GODEBUG setting StayAwake adds.
const Setting = "schedtrace=2147483647"

// Env is environ with Setting added to GODEBUG, and whether it added it:
// not when GODEBUG already sets schedtrace, the operator's choice
// (schedtrace=0 keeps the runtime's default).
func Env(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	found := false
	for _, kv := range environ {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		for s := range strings.SplitSeq(v, ",") {
			if strings.HasPrefix(strings.TrimSpace(s), "schedtrace=") {
				return environ, false
			}
		}
		found = true
		if v != "" {
			v += ","
		}
		out = append(out, "GODEBUG="+v+Setting)
	}
	if !found {
		out = append(out, "GODEBUG="+Setting)
	}
	return out, true
}

// StayAwake replaces the process with itself under Env, once: the
// runtime reads GODEBUG only at start. Call it first thing in main; it
// returns only when it changes nothing (nil) or the exec failed (the
// process then goes on as it is).
func StayAwake() error {
	env, changed := Env(os.Environ())
	if !changed {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, env)
}
