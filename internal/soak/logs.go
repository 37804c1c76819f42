package soak

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/pubauth/awsauth/authflow"
)

// msgStoreWriteFailed is what authflow logs when the provider issued
// refreshed tokens and the store did not keep them (refresh.go).
const msgStoreWriteFailed = "authflow: storing refreshed tokens failed"

// logCounter is the instances' slog.Handler: it counts warnings and errors
// by message, and keeps when and for whom refreshed tokens were not stored.
// Nothing is printed: a run's logs would be hundreds of thousands of lines.
type logCounter struct {
	mu          sync.Mutex
	counts      map[string]int
	writeFailed map[string][]time.Time // by sub
}

func newLogCounter() *logCounter {
	return &logCounter{counts: map[string]int{}, writeFailed: map[string][]time.Time{}}
}

func (l *logCounter) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	var sub string
	if r.Message == msgStoreWriteFailed {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "sub" {
				sub = a.Value.String()
				return false
			}
			return true
		})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[r.Level.String()+" "+r.Message]++
	if r.Message == msgStoreWriteFailed {
		l.writeFailed[sub] = append(l.writeFailed[sub], r.Time)
	}
	return nil
}

// sessionEnd is the instances' Config.OnSessionEndDetail: it counts the
// ends by reason, under "session ended: <reason>".
func (l *logCounter) sessionEnd(_ context.Context, end authflow.SessionEnd) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts["session ended: "+string(end.Reason)]++
}

func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// writeFailures returns when refreshed tokens of sub were not stored.
func (l *logCounter) writeFailures(sub string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.writeFailed[sub]...)
}

func (l *logCounter) writeFailureCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ts := range l.writeFailed {
		n += len(ts)
	}
	return n
}
