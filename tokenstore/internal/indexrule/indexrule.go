// Package indexrule holds the rules of tokenstore.Indexer that every backend
// shares: the argument checks, and for backends that compute an index in the
// client (Memory, DynamoDB) the listing order and the choice of evictions.
package indexrule

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	// MaxLimit is the largest limit an index accepts.
	MaxLimit = 1000
	// MaxMemberLen is the longest member, in bytes. With MaxLimit it keeps
	// an index within one DynamoDB item (400 KB).
	MaxMemberLen = 256
)

// Check returns an error, without a package prefix, when member or limit
// breaks the rules of tokenstore.Indexer.
func Check(member string, limit int) error {
	if limit < 1 || limit > MaxLimit {
		return fmt.Errorf("index limit %d is not 1 to %d", limit, MaxLimit)
	}
	return CheckMember(member)
}

// CheckMember returns an error, without a package prefix, when member breaks
// the rules of tokenstore.Indexer.
func CheckMember(member string) error {
	switch {
	case member == "" || len(member) > MaxMemberLen:
		return fmt.Errorf("index member is %d bytes, want 1 to %d", len(member), MaxMemberLen)
	case !utf8.ValidString(member) || strings.IndexByte(member, 0) >= 0:
		return fmt.Errorf("index member is not valid UTF-8 without NUL bytes")
	}
	return nil
}

// Member is a member and its expiry, in any unit that orders like time; the
// largest value means never.
type Member struct {
	Name   string
	Expiry int64
}

// Sort orders members as tokenstore.Indexer lists them: soonest expiry
// first, ties by name.
func Sort(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Expiry, b.Expiry), strings.Compare(a.Name, b.Name))
	})
}

// Evict returns the members of live, other than keep, that must leave so
// that live holds at most limit members with keep among them: the soonest to
// expire first. live holds only unexpired members, keep included or not.
func Evict(live []Member, keep string, limit int) []string {
	others := make([]Member, 0, len(live))
	for _, m := range live {
		if m.Name != keep {
			others = append(others, m)
		}
	}
	n := len(others) - (limit - 1)
	if n <= 0 {
		return nil
	}
	Sort(others)
	evicted := make([]string, n)
	for i := range n {
		evicted[i] = others[i].Name
	}
	return evicted
}
