//go:build !(linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x || mips64 || mips64le))

package loadtest

import "context"

// runEventLoop returns false: the event loop needs 64-bit Linux.
func (r *runner) runEventLoop(context.Context, *schedule) bool { return false }
