package design

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// nearMax repeats unit up to just under MaxSize, after a heading.
func nearMax(unit string) []byte {
	var b bytes.Buffer
	b.WriteString("# Design\n")
	for b.Len()+len(unit) <= MaxSize {
		b.WriteString(unit)
	}
	return b.Bytes()
}

var largeDocs = map[string][]byte{
	"realistic":     nil, // filled from testdata
	"one sentence":  nearMax("etcd Istio kubectl apply cada no "),
	"one table row": append([]byte("# D\n|"), bytes.Repeat([]byte(" etcd |"), MaxSize/8)...),
	"long words":    nearMax(strings.Repeat("a", 5000) + " "),
}

// TestLargeDocuments: a document of MaxSize, even one without sentence
// punctuation, is checked in well under a few seconds.
func TestLargeDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("large documents")
	}
	largeDocs["realistic"] = nearMax(string(readDoc(t, "consistent.es.md")))
	for name, doc := range largeDocs {
		start := time.Now()
		if _, err := Check(doc, offshoreFacts); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s (%d bytes): %v", name, len(doc), d)
		} else {
			t.Logf("%s (%d bytes): %v", name, len(doc), d)
		}
	}
}

func BenchmarkCheckConsistent(b *testing.B) {
	doc := readDoc(b, "consistent.es.md")
	b.SetBytes(int64(len(doc)))
	for i := 0; i < b.N; i++ {
		if _, err := Check(doc, offshoreFacts); err != nil {
			b.Fatal(err)
		}
	}
}
