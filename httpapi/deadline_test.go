package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLazyDeadlineClosesDoneAtTheDeadline(t *testing.T) {
	ctx, release := withLazyDeadline(context.Background(), 30*time.Millisecond)
	defer release()
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v, want nil", err)
	}
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close within 5 s of a 30 ms deadline")
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("Done closed after %v, before the 30 ms deadline", waited)
	}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err after the deadline = %v, want DeadlineExceeded", err)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
		t.Errorf("Cause after the deadline = %v, want DeadlineExceeded", cause)
	}
}

func TestLazyDeadlineErrWithoutDone(t *testing.T) {
	ctx, release := withLazyDeadline(context.Background(), 10*time.Millisecond)
	defer release()
	time.Sleep(20 * time.Millisecond)
	// Nothing armed a timer, yet the deadline has passed.
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err after the deadline, Done never called = %v, want DeadlineExceeded", err)
	}
}

func TestLazyDeadlineRelease(t *testing.T) {
	for _, armFirst := range []bool{false, true} {
		ctx, release := withLazyDeadline(context.Background(), time.Hour)
		if armFirst {
			_ = ctx.Done()
		}
		release()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("armed before release %v: Err = %v, want Canceled", armFirst, err)
		}
		select {
		case <-ctx.Done():
		default:
			t.Errorf("armed before release %v: Done is open after release", armFirst)
		}
	}
}

func TestLazyDeadlineFollowsItsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey("k"), "v"))
	ctx, release := withLazyDeadline(parent, time.Hour)
	defer release()
	if got := ctx.Value(ctxKey("k")); got != "v" {
		t.Errorf("Value = %v, want the parent's v", got)
	}
	cancel()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after the parent's cancel = %v, want Canceled", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close after the parent was cancelled")
	}
}

func TestLazyDeadlineBoundsDerivedContexts(t *testing.T) {
	ctx, release := withLazyDeadline(context.Background(), 20*time.Millisecond)
	defer release()
	// As recommend's sources do: a longer budget derived from the request.
	child, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if d, ok := child.Deadline(); !ok || time.Until(d) > time.Second {
		t.Errorf("derived deadline = %v (%v), want the request's, within 20 ms", d, ok)
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a derived context outlived the request's deadline")
	}
	// And a parent with an earlier deadline wins.
	early, cancelEarly := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancelEarly()
	late, releaseLate := withLazyDeadline(early, time.Hour)
	defer releaseLate()
	if d, _ := late.Deadline(); time.Until(d) > time.Second {
		t.Errorf("Deadline = %v, want the parent's earlier one", d)
	}
}

type ctxKey string
