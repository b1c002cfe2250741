package recommend

import "math/bits"

// slotTable maps item numbers to a page's slots: open addressing with
// linear probing over a power-of-two array of packed entries, (number+1)
// in the high half and the slot in the low half, 0 for an empty entry.
// A page looks up every entry of every list by number, 300-600 a page:
// with a Go map that was 6 % of the server's CPU at 3,000 items
// (mapaccess2_fast32 alone 4 %); here a lookup is a multiply, a shift and
// usually one load, in an array of a few kilobytes reused page after
// page.
type slotTable struct {
	e     []uint64
	shift uint8 // 64 - log2(len(e))
	n     int
}

// reset empties the table, sized for about expect numbers.
func (t *slotTable) reset(expect int) {
	size := 64
	if want := 2 * expect; want > size {
		size = 1 << bits.Len(uint(want-1))
	}
	if cap(t.e) >= size {
		t.e = t.e[:size]
		clear(t.e)
	} else {
		t.e = make([]uint64, size)
	}
	t.shift = uint8(64 - bits.Len(uint(size-1)))
	t.n = 0
}

// at is where k's probe starts (Fibonacci hashing: numbers given in
// sequence spread over the table).
func (t *slotTable) at(k uint32) uint64 { return (uint64(k) * 0x9E3779B97F4A7C15) >> t.shift }

// get is number k's slot, if the table has it.
func (t *slotTable) get(k uint32) (int32, bool) {
	key := uint64(k) + 1
	mask := uint64(len(t.e) - 1)
	for i := t.at(k); ; i = (i + 1) & mask {
		e := t.e[i]
		if e == 0 {
			return 0, false
		}
		if e>>32 == key {
			return int32(uint32(e)), true
		}
	}
}

// put maps number k (never cache.NoNumber) to slot j; k must not be in
// the table.
func (t *slotTable) put(k uint32, j int32) {
	if 2*(t.n+1) > len(t.e) {
		t.grow()
	}
	mask := uint64(len(t.e) - 1)
	i := t.at(k)
	for t.e[i] != 0 {
		i = (i + 1) & mask
	}
	t.e[i] = (uint64(k)+1)<<32 | uint64(uint32(j))
	t.n++
}

// grow doubles the table, keeping its entries.
func (t *slotTable) grow() {
	old := t.e
	t.e = make([]uint64, 2*len(old))
	t.shift--
	mask := uint64(len(t.e) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := t.at(uint32(e>>32 - 1))
		for t.e[i] != 0 {
			i = (i + 1) & mask
		}
		t.e[i] = e
	}
}
