package recommend

import "github.com/recs-server/recs/catalog"

// Forget drops what the engine holds about an erased shopper, once the
// store has erased them: the user's and the linked sessions' recent
// interactions. Events of theirs stamped at or before the erasure that
// arrive later (a request that raced it, a late retry) are not taken
// into memory again. The caches hold nothing per shopper: items, candidate
// lists and vectors are per item, and a build's tables are aggregates over
// items, which the next build recomputes without the erased events.
func (e *Engine) Forget(er catalog.Erasure) {
	e.sessions.Erase(er.UserID, er.SessionIDs, er.ErasedAt)
}
