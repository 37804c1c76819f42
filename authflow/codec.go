package authflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The binary records authflow keeps: the session record in the Store
// (session.go, with the TokenSet inside it) and the sealed flow cookie
// (flow.go). Both are written and read with the one codec below.
//
// A record is a version byte, then its fields in a fixed order, each one of:
//
//	string, bytes  uvarint length, then that many bytes
//	uint           uvarint
//	time           varint Unix seconds, then uvarint nanoseconds (< 1e9), UTC;
//	               every time.Time round-trips, the zero time included
//
// Lengths come first, so every read is bounded by the input; a record's
// version names its whole layout, so a change of fields is a new version and
// a record of another version is refused, never misread.

// errCorruptRecord is returned, wrapped, for a record that does not decode:
// empty, of an unknown version, truncated, oversized, with trailing bytes, or
// not a record at all. The message names the record and the fault, never a
// field's content.
var errCorruptRecord = errors.New("authflow: corrupt record")

// Upper bounds of a field's encoding besides its content, for size hints.
const (
	lengthSize = binary.MaxVarintLen64
	timeSize   = binary.MaxVarintLen64 + 5 // nanoseconds < 1e9 take at most 5 bytes
)

// recordWriter appends a record's fields to b. Writing cannot fail: a layer
// with a size limit checks len(b) when done.
type recordWriter struct {
	b []byte
}

// newRecordWriter starts a record of the given version, with room for about
// size bytes.
func newRecordWriter(version byte, size int) recordWriter {
	b := make([]byte, 1, 1+size)
	b[0] = version
	return recordWriter{b: b}
}

func (w *recordWriter) string(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *recordWriter) bytes(p []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}

func (w *recordWriter) uint(n uint64) {
	w.b = binary.AppendUvarint(w.b, n)
}

func (w *recordWriter) time(t time.Time) {
	w.b = binary.AppendVarint(w.b, t.Unix())
	w.b = binary.AppendUvarint(w.b, uint64(t.Nanosecond()))
}

// recordReader reads a record's fields in the order they were written. The
// first fault sticks: later reads return zero values, and done reports it.
type recordReader struct {
	kind  string // names the record in errors: "session", "flow cookie"
	b     []byte
	s     string // b copied once: string fields are substrings of it
	off   int
	field int // fields read so far, for errors
	err   error
}

// readRecord checks a record's version and size and returns a reader over its
// fields. A record longer than maxLen is refused before anything is copied.
func readRecord(kind string, b []byte, version byte, maxLen int) recordReader {
	r := recordReader{kind: kind, b: b, off: 1}
	switch {
	case len(b) == 0:
		r.fail("empty")
	case len(b) > maxLen:
		r.fail(fmt.Sprintf("%d bytes exceeds the limit of %d", len(b), maxLen))
	case b[0] != version:
		r.fail(fmt.Sprintf("unknown version %d", b[0]))
	default:
		// One allocation backs every string field: RequireLogin decodes a
		// session on every request.
		r.s = string(b)
	}
	return r
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", errCorruptRecord, r.kind, what)
	}
}

// span reads a length prefix and returns the bounds of the field it prefixes.
func (r *recordReader) span() (start, end int, ok bool) {
	if r.err != nil {
		return 0, 0, false
	}
	r.field++
	n, w := binary.Uvarint(r.b[r.off:])
	if w <= 0 {
		r.fail(fmt.Sprintf("field %d: bad length", r.field))
		return 0, 0, false
	}
	start = r.off + w
	if n > uint64(len(r.b)-start) {
		r.fail(fmt.Sprintf("field %d: length overruns the record", r.field))
		return 0, 0, false
	}
	end = start + int(n)
	r.off = end
	return start, end, true
}

// string reads a string field; it shares memory with no caller's slice.
func (r *recordReader) string() string {
	start, end, ok := r.span()
	if !ok {
		return ""
	}
	return r.s[start:end]
}

// bytes reads a bytes field as a subslice of the record: nil when empty.
func (r *recordReader) bytes() []byte {
	start, end, ok := r.span()
	if !ok || start == end {
		return nil
	}
	return slices.Clip(r.b[start:end])
}

// uint reads a uint field.
func (r *recordReader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	r.field++
	n, w := binary.Uvarint(r.b[r.off:])
	if w <= 0 {
		r.fail(fmt.Sprintf("field %d: bad number", r.field))
		return 0
	}
	r.off += w
	return n
}

// time reads a time field, in UTC; the zero time reads back as time.Time{}
// (UTC is time.Time's zero location).
func (r *recordReader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	r.field++
	sec, w := binary.Varint(r.b[r.off:])
	if w <= 0 {
		r.fail(fmt.Sprintf("field %d: bad time", r.field))
		return time.Time{}
	}
	nsec, w2 := binary.Uvarint(r.b[r.off+w:])
	if w2 <= 0 || nsec >= uint64(time.Second) {
		r.fail(fmt.Sprintf("field %d: bad time", r.field))
		return time.Time{}
	}
	r.off += w + w2
	return time.Unix(sec, int64(nsec)).UTC() // the zero time: year 1, UTC
}

// done returns the first fault, or an error when bytes follow the last field.
func (r *recordReader) done() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)-r.off))
	}
	return r.err
}
