package tokenstore

import (
	"context"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/tokenstore/internal/indexrule"
)

// memIndex maps a member to its expiry in Unix nanoseconds (never for none).
type memIndex map[string]int64

// live returns the unexpired members of x.
func (x memIndex) live(now int64) []indexrule.Member {
	ms := make([]indexrule.Member, 0, len(x))
	for name, exp := range x {
		if exp > now {
			ms = append(ms, indexrule.Member{Name: name, Expiry: exp})
		}
	}
	return ms
}

// dropExpired deletes the expired members of x.
func (x memIndex) dropExpired(now int64) {
	for name, exp := range x {
		if exp <= now {
			delete(x, name)
		}
	}
}

// AddToIndex adds member to index until expiry, evicting the members that
// expire soonest beyond limit, as Indexer documents.
func (m *Memory) AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := indexrule.Check(member, limit); err != nil {
		return nil, fmt.Errorf("tokenstore: add to index: %w", err)
	}
	exp := unixNanos(expiry)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	x := m.indexes[index]
	if exp <= now {
		if x != nil {
			m.removeMember(index, x, member)
		}
		return nil, nil
	}
	if x == nil {
		m.makeRoomForIndex(now)
		x = make(memIndex)
		m.indexes[index] = x
	}
	x.dropExpired(now)
	evicted := indexrule.Evict(x.live(now), member, limit)
	for _, name := range evicted {
		delete(x, name)
	}
	x[member] = exp
	return evicted, nil
}

// makeRoomForIndex keeps the number of indexes below maxEntries before one
// is added; m.mu is held.
func (m *Memory) makeRoomForIndex(now int64) {
	if len(m.indexes) >= 2*m.indexSweep+64 || len(m.indexes) >= m.maxEntries {
		for name, x := range m.indexes {
			x.dropExpired(now)
			if len(x) == 0 {
				delete(m.indexes, name)
			}
		}
		m.indexSweep = len(m.indexes)
	}
	if len(m.indexes) < m.maxEntries {
		return
	}
	// Full of live indexes: drop the one whose last member expires
	// soonest. O(n), but only on this path.
	var victim string
	last := int64(never)
	for name, x := range m.indexes {
		var l int64
		for _, exp := range x {
			l = max(l, exp)
		}
		if victim == "" || l < last {
			victim, last = name, l
		}
	}
	delete(m.indexes, victim)
}

// removeMember deletes member from x, the index named index, and the index
// once empty; m.mu is held.
func (m *Memory) removeMember(index string, x memIndex, member string) {
	delete(x, member)
	if len(x) == 0 {
		delete(m.indexes, index)
	}
}

// RemoveFromIndex removes member from index. Removing a member that is not
// there returns nil.
func (m *Memory) RemoveFromIndex(ctx context.Context, index, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if x := m.indexes[index]; x != nil {
		m.removeMember(index, x, member)
	}
	return nil
}

// Index returns the live members of index, soonest expiry first.
func (m *Memory) Index(ctx context.Context, index string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.now().UnixNano()
	m.mu.RLock()
	ms := m.indexes[index].live(now)
	m.mu.RUnlock()
	indexrule.Sort(ms)
	names := make([]string, len(ms))
	for i, mem := range ms {
		names[i] = mem.Name
	}
	return names, nil
}
