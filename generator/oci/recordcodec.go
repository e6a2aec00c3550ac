package oci

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// The publish record of a 5,000-cluster fleet is about a megabyte of JSON
// that every publish reads and writes: encoding/json takes ~13 ms to
// decode it and ~7 ms to encode it, a tenth of an incremental publish.
// marshalRecord and unmarshalRecord do the same for the record's own
// shape in a fraction of that. marshalRecord's bytes are exactly
// json.Marshal's; unmarshalRecord reads what marshalRecord writes and
// hands anything else (another layout, escapes, unknown fields) to
// encoding/json.

// marshalRecord is json.Marshal(r).
func marshalRecord(r *Record) ([]byte, error) {
	b := make([]byte, 0, 64+len(r.Tags)*200+len(r.Regions)*100)
	b = append(b, `{"repository":`...)
	b = appendJSONString(b, r.Repository)
	b = append(b, `,"tags":`...)
	if r.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, tag := range sortedKeys(r.Tags) {
			if i > 0 {
				b = append(b, ',')
			}
			e := r.Tags[tag]
			b = appendJSONString(b, tag)
			b = append(b, `:{"digest":`...)
			b = appendJSONString(b, e.Digest)
			b = append(b, `,"key":`...)
			b = appendJSONString(b, e.Key)
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, e.Size, 10)
			if e.SignedBy != "" {
				b = append(b, `,"signedBy":`...)
				b = appendJSONString(b, e.SignedBy)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if len(r.Regions) > 0 {
		b = append(b, `,"regions":{`...)
		for i, region := range sortedKeys(r.Regions) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, region)
			b = append(b, ':')
			b = appendJSONString(b, r.Regions[region])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plainJSON: s needs no escaping in JSON (encoding/json also escapes <,
// > and & for HTML).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func appendJSONString(b []byte, s string) []byte {
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// unmarshalRecord decodes a record; the fast path takes exactly
// marshalRecord's layout.
func unmarshalRecord(data []byte) (*Record, error) {
	if r, ok := fastRecord(data); ok {
		return r, nil
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// recordScanner reads marshalRecord's layout; any surprise sets bad.
type recordScanner struct {
	b   string // one copy of the file: the record's strings share it
	i   int
	bad bool
}

func (s *recordScanner) lit(l string) {
	if s.bad || len(s.b)-s.i < len(l) || s.b[s.i:s.i+len(l)] != l {
		s.bad = true
		return
	}
	s.i += len(l)
}

func (s *recordScanner) peek(c byte) bool {
	return !s.bad && s.i < len(s.b) && s.b[s.i] == c
}

// str reads a string without escapes (marshalRecord writes any other
// through encoding/json, with a backslash: the slow path reads those).
func (s *recordScanner) str() string {
	s.lit(`"`)
	if s.bad {
		return ""
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v
		case c == '\\' || c < 0x20 || c >= 0x80:
			s.bad = true
			return ""
		}
		s.i++
	}
	s.bad = true
	return ""
}

// int reads an integer as JSON writes it: -?(0|[1-9][0-9]*).
func (s *recordScanner) int() int64 {
	start := s.i
	if s.peek('-') {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == digits || (s.b[digits] == '0' && s.i > digits+1) {
		s.bad = true
		return 0
	}
	n, err := strconv.ParseInt(s.b[start:s.i], 10, 64)
	if err != nil {
		s.bad = true
	}
	return n
}

func fastRecord(data []byte) (*Record, bool) {
	s := &recordScanner{b: string(data)}
	r := &Record{}
	s.lit(`{"repository":`)
	r.Repository = s.str()
	s.lit(`,"tags":{`)
	r.Tags = make(map[string]RecordEntry, strings.Count(s.b, `:{"digest":`))
	for !s.bad && !s.peek('}') {
		if len(r.Tags) > 0 {
			s.lit(",")
		}
		tag := s.str()
		var e RecordEntry
		s.lit(`:{"digest":`)
		e.Digest = s.str()
		s.lit(`,"key":`)
		e.Key = s.str()
		s.lit(`,"size":`)
		e.Size = s.int()
		if s.peek(',') {
			s.lit(`,"signedBy":`)
			e.SignedBy = s.str()
		}
		s.lit("}")
		if _, dup := r.Tags[tag]; dup {
			s.bad = true // encoding/json keeps the last: let it decide
		}
		r.Tags[tag] = e
	}
	s.lit("}")
	if s.peek(',') {
		s.lit(`,"regions":{`)
		r.Regions = map[string]string{}
		for !s.bad && !s.peek('}') {
			if len(r.Regions) > 0 {
				s.lit(",")
			}
			k := s.str()
			s.lit(":")
			if _, dup := r.Regions[k]; dup {
				s.bad = true
			}
			r.Regions[k] = s.str()
		}
		s.lit("}")
	}
	s.lit("}")
	if s.bad || s.i != len(data) {
		return nil, false
	}
	return r, true
}
