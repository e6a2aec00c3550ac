package gitrepo

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// A git index codec for versions 2, 3 and 4, for the one reason that
// go-git's reads every field through reflection: decoding and encoding a
// 25,000-entry index was a quarter of a one-region regeneration. The
// version is kept when the index is written (index.version=4 and
// feature.manyFiles make version 4, whose names are prefix-compressed).
// Optional extensions are kept when they stay true after an edit (the
// cache tree, with the folders of edited paths invalidated as git does;
// resolve-undo) and dropped otherwise (the untracked cache, fsmonitor
// data and offset tables, which git rebuilds). A required extension (a
// split index's "link", a sparse index's "sdir") is a requiredExtError:
// CheckCompat refuses those; anything else (a malformed file) goes to
// go-git's codec.

var errSlowPath = errors.New("index needs go-git's codec")

// requiredExtError: the index has an extension readers must understand.
type requiredExtError struct{ name string }

func (e *requiredExtError) Error() string { return "index extension " + e.name + " is not supported" }

const (
	entryFixed     = 62 // stat data, hash, flags
	flagExtended   = 0x4000
	flagStageShift = 12
	nameMask       = 0x0fff
	extSkipWT      = 0x4000
	extIntentToAdd = 0x2000
)

// rawIndex is an index as read from disk. Entries are found by name
// without being decoded, decoded only when asked for, and written back
// byte for byte unless edited (version 4: their stat data is, their names
// are compressed again): a one-region regeneration touches 1,000 of 25,000
// entries, and decoding them all (25,000 structs, 3 MB of fresh memory)
// cost more than the rest of its index work.
//
// The trailing checksum is not verified on read, as git itself does
// outside fsck (read-cache.c checks it only when verify_index_checksum is
// set); a truncated or malformed file is refused (errSlowPath), and then
// go-git's decoder, which verifies, has the last word.
type rawIndex struct {
	data    []byte // the file; never written to
	version uint32
	offs    []int    // where entry i starts; offs[len(names)] ends the entries
	names   []string // entry names, substrings of data (no copies) before version 4
	entries []*index.Entry
	// tree is the cache tree extension's body (nil: none), parsed only
	// when the index is written; reuc the raw resolve-undo extension,
	// header included.
	tree    []byte
	reuc    []byte
	ModTime time.Time
}

// parseIndex locates the entries of index file b. Entries must be in git's
// order (name bytes, then stage), as git writes them.
func parseIndex(b []byte) (*rawIndex, error) {
	if len(b) < 12+20 || string(b[:4]) != "DIRC" {
		return nil, errSlowPath
	}
	version := binary.BigEndian.Uint32(b[4:8])
	if version < 2 || version > 4 {
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
	prev := ""
	badOrder := false
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
		x.offs[i] = pos
		if version == 4 {
			strip, w := readOffsetVarint(b[nameStart:end])
			if w <= 0 || strip > len(prev) {
				return nil, errSlowPath
			}
			nul := bytes.IndexByte(b[nameStart+w:end], 0)
			if nul < 0 {
				return nil, errSlowPath
			}
			x.names[i] = prev[:len(prev)-strip] + string(b[nameStart+w:nameStart+w+nul])
			pos = nameStart + w + nul + 1
		} else {
			nul := bytes.IndexByte(b[nameStart:end], 0)
			if nul < 0 {
				return nil, errSlowPath
			}
			x.names[i] = all[nameStart : nameStart+nul]
			pos += (hdr + nul + 8) &^ 7
		}
		prev = x.names[i]
		if i > 0 && compareNameStage(x.names[i-1], x.stage(i-1), x.names[i], x.stage(i)) >= 0 {
			// Out of order, or a split index's entries whose names
			// live in the shared index: read on to its extensions.
			badOrder = true
		}
	}
	if pos > end {
		return nil, errSlowPath
	}
	x.offs[n] = pos
	// Extensions: optional ones start with A-Z; any other (a split
	// index's "link", a sparse index's "sdir") changes what the entries
	// mean.
	for pos < end {
		if pos+8 > end {
			return nil, errSlowPath
		}
		sig := string(b[pos : pos+4])
		size := int(binary.BigEndian.Uint32(b[pos+4:]))
		if size > end-pos-8 {
			return nil, errSlowPath
		}
		if b[pos] < 'A' || b[pos] > 'Z' {
			return nil, &requiredExtError{name: sig}
		}
		switch sig {
		case "TREE":
			x.tree = b[pos+8 : pos+8+size]
		case "REUC":
			x.reuc = b[pos : pos+8+size]
		}
		pos += 8 + size
	}
	if badOrder {
		return nil, errSlowPath
	}
	return x, nil
}

// readOffsetVarint reads git's varint.c number (the one of offset deltas):
// it returns the value and the bytes read (0 when malformed).
func readOffsetVarint(b []byte) (int, int) {
	if len(b) == 0 {
		return 0, 0
	}
	c := b[0]
	val := int(c & 127)
	i := 1
	for c&128 != 0 {
		if i >= len(b) || i > 8 {
			return 0, 0
		}
		val++
		c = b[i]
		i++
		val = val<<7 + int(c&127)
	}
	return val, i
}

func appendOffsetVarint(buf []byte, v int) []byte {
	var tmp [16]byte
	pos := len(tmp) - 1
	tmp[pos] = byte(v & 127)
	for v >>= 7; v != 0; v >>= 7 {
		v--
		pos--
		tmp[pos] = 128 | byte(v&127)
	}
	return append(buf, tmp[pos:]...)
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
// were, byte for byte (version 4: their names compressed again), and a new
// checksum. The version is kept (3 at least when an entry needs extended
// flags); the cache tree is kept with the folders of every edited or added
// path invalidated, resolve-undo as it was; other extensions are dropped.
func (x *rawIndex) writeEdited(w io.Writer, edited map[int]*index.Entry, added []*index.Entry) error {
	added = slices.Clone(added)
	sortEntries(added)
	version, n := x.version, x.len()+len(added)
	for _, e := range edited {
		if e == nil {
			n--
		} else if (e.SkipWorktree || e.IntentToAdd) && version < 3 {
			version = 3 // version 2 entries are valid version 3 ones
		}
	}
	for _, e := range added {
		if (e.SkipWorktree || e.IntentToAdd) && version < 3 {
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
	var hdrBuf [entryFixed + 2]byte
	prev := ""
	put := func(e *index.Entry) {
		if version == 4 {
			buf = appendEntryV4(buf[:0], entryHeader(hdrBuf[:0], e), e.Name, prev)
			prev = e.Name
		} else {
			buf = appendEntry(buf[:0], e)
		}
		bw.Write(buf)
	}
	var touched []string // for the cache tree only
	keepTree := x.tree != nil
	j := 0
	for i := range x.names {
		for j < len(added) && compareNameStage(added[j].Name, added[j].Stage, x.names[i], x.stage(i)) < 0 {
			put(added[j])
			if keepTree {
				touched = append(touched, added[j].Name)
			}
			j++
		}
		if e, ok := edited[i]; ok {
			if e != nil {
				put(e)
			}
			if keepTree {
				touched = append(touched, x.names[i])
			}
			continue
		}
		if version == 4 {
			buf = appendEntryV4(buf[:0], x.data[x.offs[i]:x.offs[i]+x.headerLen(i)], x.names[i], prev)
			prev = x.names[i]
			bw.Write(buf)
			continue
		}
		bw.Write(x.data[x.offs[i]:x.offs[i+1]])
	}
	for ; j < len(added); j++ {
		put(added[j])
		if keepTree {
			touched = append(touched, added[j].Name)
		}
	}
	// The cache tree, unless damaged (only a cache: dropped then).
	if tree, err := parseCacheTree(x.tree); x.tree != nil && err == nil {
		for _, p := range touched {
			tree.invalidate(p)
		}
		body := tree.appendTo(nil)
		var h [8]byte
		copy(h[:4], "TREE")
		binary.BigEndian.PutUint32(h[4:], uint32(len(body)))
		bw.Write(h[:])
		bw.Write(body)
	}
	if x.reuc != nil {
		bw.Write(x.reuc)
	}
	// The checksum covers everything before it: flush, then write it to w
	// alone.
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(sum.Sum(nil))
	return err
}

// headerLen is the size of entry i's fixed part (62 bytes, 64 with
// extended flags).
func (x *rawIndex) headerLen(i int) int {
	if binary.BigEndian.Uint16(x.data[x.offs[i]+60:])&flagExtended != 0 {
		return entryFixed + 2
	}
	return entryFixed
}

// encodeIndexFast writes idx to w as version 2 (3 when an entry needs the
// extended flags), without extensions, with its checksum.
func encodeIndexFast(w io.Writer, idx *index.Index) error {
	empty := &rawIndex{version: 2}
	return empty.writeEdited(w, nil, idx.Entries)
}

// entryHeader appends to buf (give it room for 64 bytes) e's fixed part in
// the on-disk format: stat data, hash, flags (with the name length) and
// the extended flags when needed.
func entryHeader(buf []byte, e *index.Entry) []byte {
	fixed := buf[:entryFixed]
	clear(fixed)
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
	if e.SkipWorktree || e.IntentToAdd {
		flags |= flagExtended
		var ext uint16
		if e.SkipWorktree {
			ext |= extSkipWT
		}
		if e.IntentToAdd {
			ext |= extIntentToAdd
		}
		fixed = binary.BigEndian.AppendUint16(fixed, ext)
	}
	binary.BigEndian.PutUint16(fixed[60:], flags)
	return fixed
}

// appendEntry appends e in the version 2/3 format, padded with NULs.
func appendEntry(buf []byte, e *index.Entry) []byte {
	var room [entryFixed + 2]byte
	fixed := entryHeader(room[:0], e)
	buf = append(buf, fixed...)
	buf = append(buf, e.Name...)
	pad := (len(fixed)+len(e.Name)+8)&^7 - len(fixed) - len(e.Name)
	var zeros [8]byte
	return append(buf, zeros[:pad]...)
}

// appendEntryV4 appends an entry in the version 4 format: its fixed part,
// then its name as the number of bytes to drop from the end of the
// previous name and the bytes that follow, NUL-terminated, no padding.
func appendEntryV4(buf, fixed []byte, name, prev string) []byte {
	common := 0
	for common < len(name) && common < len(prev) && name[common] == prev[common] {
		common++
	}
	buf = append(buf, fixed...)
	buf = appendOffsetVarint(buf, len(prev)-common)
	buf = append(buf, name[common:]...)
	return append(buf, 0)
}

// cacheTree is the index's TREE extension: for each folder, the number of
// index entries under it and its tree's hash (count -1: invalid, no hash).
type cacheTree struct {
	name  string
	count int
	hash  [20]byte
	subs  []*cacheTree
}

func parseCacheTree(b []byte) (*cacheTree, error) {
	t, rest, err := parseCacheTreeNode(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errSlowPath
	}
	return t, nil
}

func parseCacheTreeNode(b []byte) (*cacheTree, []byte, error) {
	nul := bytes.IndexByte(b, 0)
	if nul < 0 {
		return nil, nil, errSlowPath
	}
	t := &cacheTree{name: string(b[:nul])}
	b = b[nul+1:]
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return nil, nil, errSlowPath
	}
	fields := strings.Fields(string(b[:nl]))
	if len(fields) != 2 {
		return nil, nil, errSlowPath
	}
	var err error
	if t.count, err = strconv.Atoi(fields[0]); err != nil {
		return nil, nil, errSlowPath
	}
	nsub, err := strconv.Atoi(fields[1])
	if err != nil || nsub < 0 {
		return nil, nil, errSlowPath
	}
	b = b[nl+1:]
	if t.count >= 0 {
		if len(b) < 20 {
			return nil, nil, errSlowPath
		}
		copy(t.hash[:], b[:20])
		b = b[20:]
	}
	for i := 0; i < nsub; i++ {
		var sub *cacheTree
		if sub, b, err = parseCacheTreeNode(b); err != nil {
			return nil, nil, err
		}
		t.subs = append(t.subs, sub)
	}
	return t, b, nil
}

func (t *cacheTree) appendTo(buf []byte) []byte {
	buf = append(buf, t.name...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, int64(t.count), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(len(t.subs)), 10)
	buf = append(buf, '\n')
	if t.count >= 0 {
		buf = append(buf, t.hash[:]...)
	}
	for _, s := range t.subs {
		buf = s.appendTo(buf)
	}
	return buf
}

// invalidate marks the folders holding path p as changed, as git's
// cache_tree_invalidate_path does: the root and each folder on the way.
func (t *cacheTree) invalidate(p string) {
	t.count = -1
	slash := strings.IndexByte(p, '/')
	if slash < 0 {
		return
	}
	for _, s := range t.subs {
		if s.name == p[:slash] {
			s.invalidate(p[slash+1:])
			return
		}
	}
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
