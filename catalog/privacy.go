package catalog

import "time"

// Erasure reports what a store removed for one shopper (the right to be
// forgotten).
type Erasure struct {
	// UserID is the (pseudonymous) id erased; SessionIDs the sessions that
	// were linked to it (by its events or its profile), erased with it.
	UserID     string
	SessionIDs []string
	// Events is how many events were deleted; Profile whether a user
	// record was.
	Events  int
	Profile bool
	// ErasedAt is the tombstone's time: events of these visitors stamped
	// at or before it are refused from now on, so a late retry or a
	// re-import cannot bring the shopper back.
	ErasedAt time.Time
}

// AuditEntry is one line of the audit log: an admin action through the
// API or a build. It never holds a key or a shopper's id.
type AuditEntry struct {
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// Actor is who acted: an API key's label, or the command and OS user
	// of a batch job.
	Actor  string `json:"actor"`
	Action string `json:"action"`
	// ModelVersion is the build served (API actions) or made (builds);
	// DataFrom and DataTo the event window a build read.
	ModelVersion string    `json:"model_version,omitempty"`
	DataFrom     time.Time `json:"data_from,omitzero"`
	DataTo       time.Time `json:"data_to,omitzero"`
	// Counts say how much the action touched ("items": 120, "events": 42).
	Counts map[string]int64 `json:"counts,omitempty"`
}

// The audit actions recs records.
const (
	AuditItemsPut     = "items_put"
	AuditStock        = "stock"
	AuditEraseUser    = "erase_user"
	AuditEraseSession = "erase_session"
	AuditBuild        = "build"
	AuditKeys         = "keys_loaded"
)
