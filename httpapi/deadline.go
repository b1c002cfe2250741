package httpapi

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context with a deadline whose timer is armed only
// when something waits on it (Done). A warm read is answered from memory
// without waiting on anything, and arming a timer for each request was
// 8.8 % of the server's CPU in one profile at 3,000 req/s (0.7 % in
// another: it depends on whether the network poller's thread is asleep):
// a new timer earlier than any the runtime had woke that thread
// (time.AfterFunc, runtime.wakeNetPoller, a futex wake per request). A read that misses a
// cache and waits on PostgreSQL or a search slot calls Done, and from
// then on the context is context.WithDeadline's.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	armed    context.Context // nil until Done is called
	cancel   context.CancelFunc
	released bool
}

// withLazyDeadline is context.WithTimeout(parent, d) without the timer
// until one is needed. The CancelFunc must be called, as for
// WithTimeout, once the request is answered.
func withLazyDeadline(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c := &lazyDeadline{parent: parent, deadline: time.Now().Add(d)}
	return c, c.release
}

func (c *lazyDeadline) Deadline() (time.Time, bool) {
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

// Done arms the deadline: from here on the context is a
// context.WithDeadline's.
func (c *lazyDeadline) Done() <-chan struct{} {
	return c.arm().Done()
}

func (c *lazyDeadline) Err() error {
	c.mu.Lock()
	armed, released := c.armed, c.released
	c.mu.Unlock()
	if armed != nil {
		return armed.Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if released {
		return context.Canceled
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value answers from the armed context once there is one, so that
// context.Cause and the contexts derived from this one find its
// cancellation, and from the parent before.
func (c *lazyDeadline) Value(key any) any {
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	if armed != nil {
		return armed.Value(key)
	}
	return c.parent.Value(key)
}

func (c *lazyDeadline) arm() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		c.armed, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.armed
}

func (c *lazyDeadline) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = true
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *lazyDeadline) String() string { return "httpapi.lazyDeadline" }
