package sysmon

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestEnvAddsTheSettingUnlessSchedtraceIsSet(t *testing.T) {
	for _, c := range []struct {
		in, want []string
		changed  bool
	}{
		{[]string{"A=1"}, []string{"A=1", "GODEBUG=" + Setting}, true},
		{[]string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + Setting, "A=1"}, true},
		{[]string{"GODEBUG=gctrace=1"}, []string{"GODEBUG=gctrace=1," + Setting}, true},
		{[]string{"GODEBUG=gctrace=1,schedtrace=0"}, []string{"GODEBUG=gctrace=1,schedtrace=0"}, false},
		{[]string{"GODEBUG=schedtrace=1000"}, []string{"GODEBUG=schedtrace=1000"}, false},
		// Another setting that merely ends in the name.
		{[]string{"GODEBUG=xschedtrace=1"}, []string{"GODEBUG=xschedtrace=1," + Setting}, true},
	} {
		got, changed := Env(c.in)
		if !slices.Equal(got, c.want) || changed != c.changed {
			t.Errorf("Env(%q) = %q, %v; want %q, %v", c.in, got, changed, c.want, c.changed)
		}
	}
}

// The test binary as a child: it prints "start" and its GODEBUG after
// StayAwake, so a re-exec shows as two starts.
func TestMain(m *testing.M) {
	if os.Getenv("SYSMON_TEST_CHILD") == "1" {
		fmt.Println("start")
		if err := StayAwake(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("GODEBUG=" + os.Getenv("GODEBUG"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestStayAwakeRestartsTheProcessWithTheSettingOnce(t *testing.T) {
	run := func(godebug string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") }),
			"SYSMON_TEST_CHILD=1", "GODEBUG="+godebug)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
		return string(out)
	}
	if got, want := run("gctrace=0"), "start\nstart\nGODEBUG=gctrace=0,"+Setting+"\n"; got != want {
		t.Fatalf("child printed %q, want %q", got, want)
	}
	if got, want := run("schedtrace=0"), "start\nGODEBUG=schedtrace=0\n"; got != want {
		t.Fatalf("child with the operator's schedtrace printed %q, want %q", got, want)
	}
}
