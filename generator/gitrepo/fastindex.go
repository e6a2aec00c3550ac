package gitrepo

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// A git index codec for versions 2 and 3, for the one reason that
// go-git's reads every field through reflection: decoding and encoding a
// 25,000-entry index was a quarter of a one-region regeneration.
// Optional extensions are skipped on read and not written (the cache tree
// is only a cache: git rebuilds it). Anything else (version 4, a required
// extension such as a split index's, a malformed file) goes to go-git's
// codec.

var errSlowPath = errors.New("index needs go-git's codec")

const (
	entryFixed     = 62 // stat data, hash, flags
	flagExtended   = 0x4000
	flagStageShift = 12
	nameMask       = 0x0fff
	extSkipWT      = 0x4000
	extIntentToAdd = 0x2000
)

// rawIndex is a version 2 or 3 index as read from disk. Entries are found
// by name without being decoded, decoded only when asked for, and written
// back byte for byte unless edited: a one-region regeneration touches 1,000
// of 25,000 entries, and decoding them all (25,000 structs, 3 MB of fresh
// memory) cost more than the rest of its index work.
//
// The trailing checksum is not verified on read, as git itself does
// outside fsck (read-cache.c checks it only when verify_index_checksum is
// set); a truncated or malformed file is refused (errSlowPath), and then
// go-git's decoder, which verifies, has the last word.
type rawIndex struct {
	data    []byte // the file; never written to
	version uint32
	offs    []int    // where entry i starts; offs[len(names)] ends the entries
	names   []string // entry names, substrings of data (no copies)
	entries []*index.Entry
	ModTime time.Time
}

// parseIndex locates the entries of index file b. Entries must be in git's
// order (name bytes, then stage), as git writes them.
func parseIndex(b []byte) (*rawIndex, error) {
	if len(b) < 12+20 || string(b[:4]) != "DIRC" {
		return nil, errSlowPath
	}
	version := binary.BigEndian.Uint32(b[4:8])
	if version != 2 && version != 3 {
		return nil, errSlowPath
	}
	n := int(binary.BigEndian.Uint32(b[8:12]))
	end := len(b) - 20
	if n > end/entryFixed {
		return nil, errSlowPath
	}
	all := unsafe.String(unsafe.SliceData(b), end) // b is never modified
	x := &rawIndex{data: b, version: version, offs: make([]int, n+1), names: make([]string, n), entries: make([]*index.Entry, n)}
	pos := 12
	for i := 0; i < n; i++ {
		if pos+entryFixed > end {
			return nil, errSlowPath
		}
		flags := binary.BigEndian.Uint16(b[pos+60:])
		hdr := entryFixed
		if flags&flagExtended != 0 {
			if version < 3 || pos+hdr+2 > end {
				return nil, errSlowPath
			}
			hdr += 2
		}
		nameStart := pos + hdr
		nul := bytes.IndexByte(b[nameStart:end], 0)
		if nul < 0 {
			return nil, errSlowPath
		}
		x.offs[i] = pos
		x.names[i] = all[nameStart : nameStart+nul]
		if i > 0 && compareNameStage(x.names[i-1], x.stage(i-1), x.names[i], x.stage(i)) >= 0 {
			return nil, errSlowPath
		}
		pos += (hdr + nul + 8) &^ 7
	}
	if pos > end {
		return nil, errSlowPath
	}
	x.offs[n] = pos
	// Extensions: optional ones (a name starting with A-Z: the cache
	// tree, untracked cache...) are only caches and are dropped when the
	// index is written; any other (a split index's "link", a sparse
	// index's "sdir") changes what the entries mean, so it goes to
	// go-git's decoder, which refuses what it does not know.
	for pos < end {
		if pos+8 > end || b[pos] < 'A' || b[pos] > 'Z' {
			return nil, errSlowPath
		}
		size := int(binary.BigEndian.Uint32(b[pos+4:]))
		if size > end-pos-8 {
			return nil, errSlowPath
		}
		pos += 8 + size
	}
	return x, nil
}

func (x *rawIndex) len() int { return len(x.names) }

func (x *rawIndex) stage(i int) index.Stage {
	return index.Stage((binary.BigEndian.Uint16(x.data[x.offs[i]+60:]) >> flagStageShift) & 3)
}

// search returns the position of the first entry whose name is >= name.
func (x *rawIndex) search(name string) int {
	i, _ := slices.BinarySearch(x.names, name)
	return i
}

// entry decodes entry i (once). Callers must not modify it.
func (x *rawIndex) entry(i int) *index.Entry {
	if e := x.entries[i]; e != nil {
		return e
	}
	b := x.data[x.offs[i]:]
	u32 := func(o int) uint32 { return binary.BigEndian.Uint32(b[o:]) }
	e := &index.Entry{
		Name:       x.names[i],
		CreatedAt:  time.Unix(int64(u32(0)), int64(u32(4))),
		ModifiedAt: time.Unix(int64(u32(8)), int64(u32(12))),
		Dev:        u32(16),
		Inode:      u32(20),
		Mode:       filemode.FileMode(u32(24)),
		UID:        u32(28),
		GID:        u32(32),
		Size:       u32(36),
	}
	copy(e.Hash[:], b[40:60])
	flags := binary.BigEndian.Uint16(b[60:])
	e.Stage = index.Stage((flags >> flagStageShift) & 3)
	if flags&flagExtended != 0 {
		ext := binary.BigEndian.Uint16(b[entryFixed:])
		e.SkipWorktree = ext&extSkipWT != 0
		e.IntentToAdd = ext&extIntentToAdd != 0
	}
	x.entries[i] = e
	return e
}

// writeEdited writes the index to w with entries edited (a nil value
// drops the entry) and added (in any order), the other entries as they
// were, byte for byte, and a new checksum. No extensions are written.
func (x *rawIndex) writeEdited(w io.Writer, edited map[int]*index.Entry, added []*index.Entry) error {
	added = slices.Clone(added)
	sortEntries(added)
	version, n := x.version, x.len()+len(added)
	for _, e := range edited {
		if e == nil {
			n--
		} else if e.SkipWorktree || e.IntentToAdd {
			version = 3 // version 2 entries are valid version 3 ones
		}
	}
	for _, e := range added {
		if e.SkipWorktree || e.IntentToAdd {
			version = 3
		}
	}
	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<16)
	var hdr [12]byte
	copy(hdr[:4], "DIRC")
	binary.BigEndian.PutUint32(hdr[4:], version)
	binary.BigEndian.PutUint32(hdr[8:], uint32(n))
	bw.Write(hdr[:])
	var buf []byte
	put := func(e *index.Entry) {
		buf = appendEntry(buf[:0], e)
		bw.Write(buf)
	}
	j := 0
	for i := range x.names {
		for j < len(added) && compareNameStage(added[j].Name, added[j].Stage, x.names[i], x.stage(i)) < 0 {
			put(added[j])
			j++
		}
		if e, ok := edited[i]; ok {
			if e != nil {
				put(e)
			}
			continue
		}
		bw.Write(x.data[x.offs[i]:x.offs[i+1]])
	}
	for ; j < len(added); j++ {
		put(added[j])
	}
	// The checksum covers everything before it: flush, then write it to w
	// alone.
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(sum.Sum(nil))
	return err
}

// encodeIndexFast writes idx to w as version 2 (3 when an entry needs the
// extended flags), without extensions, with its checksum.
func encodeIndexFast(w io.Writer, idx *index.Index) error {
	empty := &rawIndex{version: 2}
	return empty.writeEdited(w, nil, idx.Entries)
}

// appendEntry appends e in the on-disk format, padded with NULs.
func appendEntry(buf []byte, e *index.Entry) []byte {
	var fixed [entryFixed + 2]byte
	put := func(o int, v uint32) { binary.BigEndian.PutUint32(fixed[o:], v) }
	put(0, uint32(e.CreatedAt.Unix()))
	put(4, uint32(e.CreatedAt.Nanosecond()))
	put(8, uint32(e.ModifiedAt.Unix()))
	put(12, uint32(e.ModifiedAt.Nanosecond()))
	put(16, e.Dev)
	put(20, e.Inode)
	put(24, uint32(e.Mode))
	put(28, e.UID)
	put(32, e.GID)
	put(36, e.Size)
	copy(fixed[40:60], e.Hash[:])
	nameLen := len(e.Name)
	if nameLen > nameMask {
		nameLen = nameMask
	}
	flags := uint16(nameLen) | uint16(e.Stage&3)<<flagStageShift
	hdrLen := entryFixed
	if e.SkipWorktree || e.IntentToAdd {
		flags |= flagExtended
		var ext uint16
		if e.SkipWorktree {
			ext |= extSkipWT
		}
		if e.IntentToAdd {
			ext |= extIntentToAdd
		}
		binary.BigEndian.PutUint16(fixed[62:], ext)
		hdrLen += 2
	}
	binary.BigEndian.PutUint16(fixed[60:], flags)
	buf = append(buf, fixed[:hdrLen]...)
	buf = append(buf, e.Name...)
	pad := (hdrLen+len(e.Name)+8)&^7 - hdrLen - len(e.Name)
	var zeros [8]byte
	return append(buf, zeros[:pad]...)
}

// sortEntries orders entries as git does: by name bytes, then stage.
func sortEntries(es []*index.Entry) { slices.SortFunc(es, compareEntries) }

func compareEntries(a, b *index.Entry) int { return compareNameStage(a.Name, a.Stage, b.Name, b.Stage) }

func compareNameStage(a string, as index.Stage, b string, bs index.Stage) int {
	if c := strings.Compare(a, b); c != 0 {
		return c
	}
	return int(as) - int(bs)
}
