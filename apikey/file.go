package apikey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// maxFileSize bounds a keys file: MaxKeys lines of a few hundred bytes.
const maxFileSize = 1 << 20

// settleTime is how long a changed file must stay the same to be taken.
const settleTime = 50 * time.Millisecond

// File is a keys file that is re-read when it changes. A reload that
// fails (unreadable, or any line wrong) keeps the keys in force and is
// logged: a broken edit neither locks everybody out nor opens the API.
type File struct {
	path    string
	log     *slog.Logger
	current atomic.Pointer[Keyring]
	sum     [sha256.Size]byte // of the content in force
	// onLoad, if set, is told of every keyring put in force.
	onLoad func(*Keyring)
}

// Open reads the keys file at path; it fails if the file cannot be read
// or parsed. onLoad (may be nil) is called with every keyring put in
// force, the first one included.
func Open(path string, log *slog.Logger, onLoad func(*Keyring)) (*File, error) {
	f := &File{path: path, log: log, onLoad: onLoad}
	if _, err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Keyring returns the keys in force.
func (f *File) Keyring() *Keyring { return f.current.Load() }

// Reload reads the file again and puts it in force if its content
// changed; it reports whether it did.
func (f *File) Reload() (bool, error) {
	b, err := readLimited(f.path)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(b)
	if f.current.Load() != nil && bytes.Equal(sum[:], f.sum[:]) {
		return false, nil
	}
	// An editor that rewrites the file in place can be caught half way
	// (truncated: no keys, or some of them); take the content only once
	// two reads a moment apart agree.
	time.Sleep(settleTime)
	again, err := readLimited(f.path)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(b, again) {
		return false, fmt.Errorf("keys file %s changed while being read; the next check takes it", f.path)
	}
	kr, err := Parse(b)
	if err != nil {
		return false, fmt.Errorf("%s: %w", f.path, err)
	}
	f.sum = sum
	f.current.Store(kr)
	if f.onLoad != nil {
		f.onLoad(kr)
	}
	return true, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read keys file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read keys file: %w", err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("keys file %s is larger than %d bytes", path, maxFileSize)
	}
	return b, nil
}

// Watch re-reads the file every interval and whenever reload receives,
// until ctx ends. Watch and Reload must not run concurrently: one
// goroutine watches.
func (f *File) Watch(ctx context.Context, every time.Duration, reload <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-reload:
		}
		changed, err := f.Reload()
		if err != nil {
			f.log.Error("keys file not reloaded; the keys in force stay", "err", err)
		} else if changed {
			kr := f.Keyring()
			f.log.Info("keys file reloaded", "public_keys", kr.Count(RolePublic), "admin_keys", kr.Count(RoleAdmin))
		}
	}
}
