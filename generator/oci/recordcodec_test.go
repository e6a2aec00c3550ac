package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

func randomRecord(rng *rand.Rand, tags int) *Record {
	r := &Record{Repository: "ghcr.io/example/cargo-fleet", Tags: map[string]RecordEntry{}}
	if rng.IntN(2) == 0 {
		r.Regions = map[string]string{}
		for i := range rng.IntN(5) + 1 {
			r.Regions[fmt.Sprintf("region-%02d", i)] = fmt.Sprintf("sha256:%064x", rng.Uint64())
		}
	}
	for i := range tags {
		e := RecordEntry{Digest: fmt.Sprintf("sha256:%064x", rng.Uint64()), Key: fmt.Sprintf("sha256:%064x", rng.Uint64()), Size: rng.Int64N(1 << 20)}
		if rng.IntN(3) == 0 {
			e.SignedBy = fmt.Sprintf("sha256:%x", rng.Uint64())
		}
		r.Tags[fmt.Sprintf("r%02d-rig-%04d", i%20, i)] = e
	}
	return r
}

// The record's own codec writes what encoding/json writes and reads it
// back the same; anything else goes to encoding/json.
func TestRecordCodecIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	odd := &Record{Repository: `reg.example/a<b>&"c"\`, Tags: map[string]RecordEntry{
		"é-tag": {Digest: "sha256:\u2028", Key: "k\n", Size: -3, SignedBy: "<me>"},
		"plain": {},
	}, Regions: map[string]string{"ü": "\x01"}}
	records := []*Record{odd, {Repository: "r", Tags: map[string]RecordEntry{}}, {Repository: "r"}}
	for range 50 {
		records = append(records, randomRecord(rng, rng.IntN(40)))
	}
	for i, r := range records {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := marshalRecord(r)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d: marshalRecord\n%s\nencoding/json\n%s", i, got, want)
		}
		var ref Record
		if err := json.Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		back, err := unmarshalRecord(want)
		if err != nil || !reflect.DeepEqual(back, &ref) {
			t.Fatalf("record %d: read back %+v (%v), encoding/json reads %+v", i, back, err, &ref)
		}
		if i >= 3 {
			if _, fast := fastRecord(want); !fast {
				t.Errorf("record %d: the fast path did not take marshalRecord's output", i)
			}
		}
		indented, _ := json.MarshalIndent(r, "", "  ")
		if back, err := unmarshalRecord(indented); err != nil || !reflect.DeepEqual(back, &ref) {
			t.Fatalf("record %d: indented JSON read as %+v (%v)", i, back, err)
		}
	}
	for _, in := range []string{
		`{"repository":"r","tags":{"a":{"digest":"d","key":"k","size":1,"extra":true}}}`,
		`{"tags":{"a":{"digest":"d","key":"k","size":1}},"repository":"r"}`,
		`{"repository":"r","tags":{"a":{"digest":"d","key":"k","size":1},"a":{"digest":"e","key":"k","size":2}}}`,
		`{"repository":"r\u0041","tags":{}}`,
		`{"repository":"r","tags":{},"regions":{}}`,
		`{"repository":"r","tags":null}`,
		`{"repository":"r","tags":{"a":{"digest":"d","key":"k","size":1.5}}}`,
		`{"repository":"r","tags":{}}` + " ",
		`{"repository":"r","tags":{}`,
		``,
	} {
		var ref Record
		refErr := json.Unmarshal([]byte(in), &ref)
		got, err := unmarshalRecord([]byte(in))
		if (err != nil) != (refErr != nil) || (err == nil && !reflect.DeepEqual(got, &ref)) {
			t.Errorf("%s: read %+v (%v), encoding/json %+v (%v)", in, got, err, &ref, refErr)
		}
	}
}

func FuzzRecordCodec(f *testing.F) {
	b, _ := json.Marshal(randomRecord(rand.New(rand.NewPCG(3, 4)), 3))
	f.Add(b)
	f.Add([]byte(`{"repository":"r","tags":{"a":{"digest":"d","key":"k","size":1,"signedBy":"s"}},"regions":{"x":"y"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var ref Record
		refErr := json.Unmarshal(in, &ref)
		got, err := unmarshalRecord(in)
		if (err != nil) != (refErr != nil) || (err == nil && !reflect.DeepEqual(got, &ref)) {
			t.Errorf("%q: read %+v (%v), encoding/json %+v (%v)", in, got, err, &ref, refErr)
		}
	})
}

func BenchmarkRecordCodec(b *testing.B) {
	r := randomRecord(rand.New(rand.NewPCG(5, 6)), 5000)
	data, _ := json.Marshal(r)
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			marshalRecord(r)
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			unmarshalRecord(data)
		}
	})
	b.Run("encoding-json-unmarshal", func(b *testing.B) {
		for b.Loop() {
			var x Record
			json.Unmarshal(data, &x)
		}
	})
}
