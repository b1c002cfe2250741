package memstore

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"time"

	"github.com/recs-server/recs/catalog"
)

// erasedLocked reports whether an event belongs to an erased visitor and
// is stamped at or before the erasure. The caller holds s.mu.
func (s *Store) erasedLocked(e *catalog.Event) bool {
	if len(s.erasedUsers) == 0 && len(s.erasedSessions) == 0 {
		return false
	}
	var at time.Time
	var ok bool
	if e.UserID != "" {
		at, ok = s.erasedUsers[sha256.Sum256([]byte(e.UserID))]
	} else if e.SessionID != "" {
		at, ok = s.erasedSessions[sha256.Sum256([]byte(e.SessionID))]
	}
	return ok && !e.Time.After(at)
}

// EraseUser deletes a shopper: the user's events, the anonymous events of
// every session linked to the user (through its events or its profile),
// and the profile; then it leaves tombstones so that events of these
// visitors stamped at or before the erasure are refused from now on. The
// tombstone time is at, or the newest deleted event's time if a client
// clock ran ahead.
func (s *Store) EraseUser(ctx context.Context, userID string, at time.Time) (catalog.Erasure, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Erasure{}, err
	}
	if err := catalog.CheckID("user id", userID); err != nil {
		return catalog.Erasure{}, err
	}
	er := catalog.Erasure{UserID: userID, ErasedAt: at.UTC().Truncate(time.Microsecond)}
	s.mu.Lock()
	defer s.mu.Unlock()
	linked := map[string]bool{}
	for i := range s.events {
		if e := &s.events[i]; e.UserID == userID && e.SessionID != "" {
			linked[e.SessionID] = true
		}
	}
	u, hadProfile := s.users[userID]
	for _, sid := range u.AnonymousIDs {
		linked[sid] = true
	}
	s.deleteEventsLocked(&er, func(e *catalog.Event) bool {
		return e.UserID == userID || (e.UserID == "" && linked[e.SessionID])
	})
	delete(s.byUser, userID)
	delete(s.users, userID)
	er.Profile = hadProfile
	er.SessionIDs = slices.Sorted(maps.Keys(linked))
	tombstone(s.erasedUsers, userID, er.ErasedAt)
	for _, sid := range er.SessionIDs {
		tombstone(s.erasedSessions, sid, er.ErasedAt)
	}
	return er, nil
}

// EraseSession deletes an anonymous visitor: the events of the session
// that carry no user, and leaves a tombstone so that such events stamped
// at or before the erasure are refused from now on.
func (s *Store) EraseSession(ctx context.Context, sessionID string, at time.Time) (catalog.Erasure, error) {
	if err := ctx.Err(); err != nil {
		return catalog.Erasure{}, err
	}
	if err := catalog.CheckID("session id", sessionID); err != nil {
		return catalog.Erasure{}, err
	}
	er := catalog.Erasure{SessionIDs: []string{sessionID}, ErasedAt: at.UTC().Truncate(time.Microsecond)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteEventsLocked(&er, func(e *catalog.Event) bool { return e.UserID == "" && e.SessionID == sessionID })
	tombstone(s.erasedSessions, sessionID, er.ErasedAt)
	return er, nil
}

// deleteEventsLocked deletes the events that match, counting them in er
// and moving er.ErasedAt up to the newest. The caller holds s.mu.
func (s *Store) deleteEventsLocked(er *catalog.Erasure, match func(*catalog.Event) bool) {
	kept := s.events[:0]
	for _, e := range s.events {
		if match(&e) {
			er.Events++
			delete(s.eventIDs, e.ID)
			if e.Time.After(er.ErasedAt) {
				er.ErasedAt = e.Time
			}
			continue
		}
		kept = append(kept, e)
	}
	clear(s.events[len(kept):]) // drop the references the deleted events held
	s.events = kept
}

// tombstone records an erasure time for an id, keeping the later one.
func tombstone(m map[[32]byte]time.Time, id string, at time.Time) {
	k := sha256.Sum256([]byte(id))
	if old, ok := m[k]; !ok || old.Before(at) {
		m[k] = at
	}
}

// AppendAudit adds an entry to the audit log; At defaults to now.
func (s *Store) AppendAudit(ctx context.Context, e catalog.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.DataFrom = e.DataFrom.UTC().Truncate(time.Microsecond)
	e.DataTo = e.DataTo.UTC().Truncate(time.Microsecond)
	e.Counts = maps.Clone(e.Counts)
	s.mu.Lock()
	e.Seq = int64(len(s.audit)) + 1
	s.audit = append(s.audit, e)
	s.mu.Unlock()
	return nil
}

// AuditLog returns up to limit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]catalog.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]catalog.AuditEntry, 0, min(limit, len(s.audit)))
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.audit[i]
		e.Counts = maps.Clone(e.Counts)
		out = append(out, e)
	}
	return out, nil
}
