package cache

import "github.com/recs-server/recs/catalog"

// Filling in bulk: a warm-up reads many values with one store query and
// puts them in the cache, unless an invalidation since the read began
// made them stale.

// fillWaitEvery is how many values a Derived fill sets before waiting for
// the cache to apply them: ristretto drops sets when its buffer (32k) is
// full, and a warm-up sets tens of thousands at once.
const fillWaitEvery = 4096

// ItemsMark is the item cache's invalidation state at one moment (Mark).
type ItemsMark struct {
	gens  [genStripes]uint64
	stock uint64 // stockLevels.begin
}

// Mark returns the current invalidation state: call it before reading
// the items to Fill, and Release when done filling.
func (c *Items) Mark() *ItemsMark {
	m := &ItemsMark{stock: c.levels.begin()}
	for i := range c.gens {
		m.gens[i] = c.gens[i].Load()
	}
	return m
}

// Release ends a Mark: stock levels set after it are no longer kept for
// its Fill.
func (c *Items) Release(m *ItemsMark) { c.levels.end(m.stock) }

// Fill caches items read from the store after m was taken, with the stock
// levels set since, except those invalidated since (an upsert: they load
// on demand). It sets the stock levels in items, and the cached values
// point into items, which the caller must not modify afterwards. It
// returns how many it cached.
func (c *Items) Fill(m *ItemsMark, items []catalog.Item) int {
	at := c.levels.patch(m.stock, items)
	nums := make([]uint32, len(items))
	numbers.number(len(items), func(i int) string { return items[i].ID }, func(i int, k uint32) { nums[i] = k })
	cached := make([]string, 0, len(items))
	for i := range items {
		forServing(&items[i])
		shareNumberedID(&items[i], nums[i])
		id := items[i].ID
		j := c.t.key(id).h % genStripes
		if c.slots.setIf(nums[i], &items[i], func() bool { return c.gens[j].Load() == m.gens[j] }) {
			cached = append(cached, id)
		}
	}
	n := len(cached)
	c.levels.changedSince(at, cached, func(id string) {
		c.del(id)
		n--
	})
	return n
}

// Gen is the cache's invalidation state: read it before reading the
// values to Fill.
func (c *Derived[V]) Gen() uint64 { return c.gen.Load() }

// Fill caches values read from the store while the cache's state was gen,
// nothing if it has been cleared (a new build) or had a value dropped
// since, as those may be stale. It returns how many it cached, once they
// are visible.
func (c *Derived[V]) Fill(gen uint64, keys []string, vals []V) int {
	n := 0
	for i, key := range keys {
		if c.gen.Load() != gen {
			break // and so are all the rest
		}
		if !c.fillOne(gen, key, vals[i]) {
			continue
		}
		n++
		if n%fillWaitEvery == 0 {
			c.c.Wait()
		}
	}
	c.c.Wait()
	return n
}

// fillOne sets one value read at gen. An invalidation between the
// caller's check and the set would leave the stale value cached, so it
// checks again after and drops the value then (it loads on demand). A set
// dropped because ristretto's buffer is full is tried once more after it
// drains.
func (c *Derived[V]) fillOne(gen uint64, key string, v V) bool {
	if !c.c.Set(key, v) {
		c.c.Wait()
		if !c.c.Set(key, v) {
			return false
		}
	}
	if c.gen.Load() != gen {
		c.c.Del(key)
		return false
	}
	return true
}
