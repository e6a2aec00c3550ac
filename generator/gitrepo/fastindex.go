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

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// A git index codec for versions 2 and 3, for the one reason that
// go-git's reads every field through reflection: decoding and encoding a
// 25,000-entry index was a quarter of a one-region regeneration.
// Extensions are skipped on read and not written (the cache tree is only
// a cache: git rebuilds it). Anything else (version 4, a bad checksum)
// goes to go-git's codec.

var errSlowPath = errors.New("index needs go-git's codec")

const (
	entryFixed     = 62 // stat data, hash, flags
	flagExtended   = 0x4000
	flagStageShift = 12
	nameMask       = 0x0fff
	extSkipWT      = 0x4000
	extIntentToAdd = 0x2000
)

func decodeIndexFast(b []byte) (*index.Index, error) {
	if len(b) < 12+20 || string(b[:4]) != "DIRC" {
		return nil, errSlowPath
	}
	sum := sha1.Sum(b[:len(b)-20])
	if !bytes.Equal(sum[:], b[len(b)-20:]) {
		return nil, errSlowPath
	}
	version := binary.BigEndian.Uint32(b[4:8])
	if version != 2 && version != 3 {
		return nil, errSlowPath
	}
	n := int(binary.BigEndian.Uint32(b[8:12]))
	idx := &index.Index{Version: version, Entries: make([]*index.Entry, 0, n)}
	pos := 12
	end := len(b) - 20
	u32 := func(o int) uint32 { return binary.BigEndian.Uint32(b[pos+o:]) }
	for i := 0; i < n; i++ {
		if pos+entryFixed > end {
			return nil, errSlowPath
		}
		e := &index.Entry{
			CreatedAt:  time.Unix(int64(u32(0)), int64(u32(4))),
			ModifiedAt: time.Unix(int64(u32(8)), int64(u32(12))),
			Dev:        u32(16),
			Inode:      u32(20),
			Mode:       filemode.FileMode(u32(24)),
			UID:        u32(28),
			GID:        u32(32),
			Size:       u32(36),
		}
		copy(e.Hash[:], b[pos+40:pos+60])
		flags := binary.BigEndian.Uint16(b[pos+60:])
		e.Stage = index.Stage((flags >> flagStageShift) & 3)
		hdr := entryFixed
		if flags&flagExtended != 0 {
			if version < 3 || pos+hdr+2 > end {
				return nil, errSlowPath
			}
			ext := binary.BigEndian.Uint16(b[pos+hdr:])
			e.SkipWorktree = ext&extSkipWT != 0
			e.IntentToAdd = ext&extIntentToAdd != 0
			hdr += 2
		}
		nameStart := pos + hdr
		nul := bytes.IndexByte(b[nameStart:end], 0)
		if nul < 0 {
			return nil, errSlowPath
		}
		e.Name = string(b[nameStart : nameStart+nul])
		pos += (hdr + nul + 8) &^ 7
		idx.Entries = append(idx.Entries, e)
	}
	if pos > end {
		return nil, errSlowPath
	}
	return idx, nil // extensions (pos..end) skipped
}

// encodeIndexFast writes idx to w as version 2 (3 when an entry needs the
// extended flags), without extensions, with its checksum. It streams: a
// 25,000-entry index is ~3 MB, and building it in one buffer cost more in
// fresh pages than the encoding itself.
func encodeIndexFast(w io.Writer, idx *index.Index) error {
	version := uint32(2)
	for _, e := range idx.Entries {
		if e.SkipWorktree || e.IntentToAdd {
			version = 3
		}
	}
	entries := append([]*index.Entry(nil), idx.Entries...)
	sortEntries(entries)
	sum := sha1.New()
	b := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<16)
	var hdr [12]byte
	copy(hdr[:4], "DIRC")
	binary.BigEndian.PutUint32(hdr[4:], version)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(entries)))
	b.Write(hdr[:])
	var fixed [entryFixed + 2]byte
	var zeros [8]byte
	for _, e := range entries {
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
		b.Write(fixed[:hdrLen])
		b.WriteString(e.Name)
		pad := (hdrLen+len(e.Name)+8)&^7 - hdrLen - len(e.Name)
		b.Write(zeros[:pad])
	}
	// The checksum covers everything before it: flush, then write it to w
	// alone.
	if err := b.Flush(); err != nil {
		return err
	}
	_, err := w.Write(sum.Sum(nil))
	return err
}

// sortEntries orders entries as git does: by name bytes, then stage.
func sortEntries(es []*index.Entry) { slices.SortFunc(es, compareEntries) }

func compareEntries(a, b *index.Entry) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return int(a.Stage) - int(b.Stage)
}
