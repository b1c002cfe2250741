package loadtest

// fifo is a first-in first-out queue.
type fifo[T any] struct {
	buf  []T
	head int // index of the first element
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) { q.buf = append(q.buf, v) }

// peek returns the first element; false if there is none.
func (q *fifo[T]) peek() (T, bool) {
	if q.head == len(q.buf) {
		var zero T
		return zero, false
	}
	return q.buf[q.head], true
}

// pop removes the first element, if any.
func (q *fifo[T]) pop() {
	if q.head == len(q.buf) {
		return
	}
	var zero T
	q.buf[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.buf):
		q.buf, q.head = q.buf[:0], 0
	case q.head >= 1024 && 2*q.head >= len(q.buf): // keep the array from growing forever
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
}

func (q *fifo[T]) clear() {
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
}
