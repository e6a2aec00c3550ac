package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	fluxtar "github.com/fluxcd/pkg/tar"
	kgzip "github.com/klauspost/compress/gzip"
)

// referenceTar is the tar stream a layer must hold, written by one
// archive/tar writer: the files outside clusters/, then those under it,
// each folder once, before its first file.
func referenceTar(t *testing.T, files []File) []byte {
	t.Helper()
	var shared, own []File
	for _, f := range files {
		if strings.HasPrefix(f.Path, "clusters/") {
			own = append(own, f)
		} else {
			shared = append(shared, f)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range append(shared, own...) {
		var parents []string
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				t.Fatal(err)
			}
		}
		mode := int64(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: mode, Size: int64(len(f.Content)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.Content)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bigUnit has a clusters/ part larger than deflate's window and a
// block (several deflate blocks after the dictionary), like a region
// artifact of 250 clusters.
func bigUnit() []File {
	files := pinnedFiles()
	for i := range 300 {
		var b bytes.Buffer
		for j := range 40 {
			fmt.Fprintf(&b, "ship-%03d line %d value %d\n", i, j, (i*j)%97)
		}
		files = append(files, File{Path: fmt.Sprintf("clusters/atlantic/ship-%03d/values.yaml", i), Content: b.Bytes()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

func layerCases() map[string][]File {
	return map[string][]File{
		"sample":        sample,
		"pinned":        pinnedFiles(),
		"big clusters/": bigUnit(),
		"no clusters/":  {pinnedFiles()[0], pinnedFiles()[3]},
		"only clusters/": {
			{Path: "clusters/atlantic/ship-1/a.yaml", Content: []byte("a: 1\n")},
			{Path: "clusters/atlantic/ship-1/empty", Content: []byte{}},
		},
		"nothing": nil,
	}
}

// A layer is one ordinary gzip member (a reader that does not follow
// multistream gzip reads all of it, CRC-32 and size checked) holding one
// tar stream: byte for byte what a single tar writer writes, with the
// end-of-archive blocks only at its end; its digest and diff id are
// those of its bytes.
func TestLayerIsOneGzipMemberOfOneTar(t *testing.T) {
	for name, files := range layerCases() {
		l, err := NewBuilder().layer(files)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := referenceTar(t, files)
		br := bytes.NewReader(l.b)
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr) // checks the CRC-32 and ISIZE
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the layer holds %d bytes of tar, not the %d a single tar writer writes", name, len(got), len(want))
		}
		if err := zr.Reset(br); err != io.EOF {
			t.Errorf("%s: more than one gzip member, or bytes after it (%v)", name, err)
		}
		kz, err := kgzip.NewReader(bytes.NewReader(l.b))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(kz); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: klauspost's gzip reads %d bytes (%v)", name, len(got), err)
		}
		diff, digest := sha256.Sum256(want), sha256.Sum256(l.b)
		if l.diffID.Hex != hex.EncodeToString(diff[:]) || l.digest.Hex != hex.EncodeToString(digest[:]) {
			t.Errorf("%s: diff id %s digest %s, not those of the bytes", name, l.diffID, l.digest)
		}
	}
}

// What source-controller does with the layer (fluxcd/pkg/tar Untar,
// called as internal/controller/ocirepository_controller.go calls it in
// source-controller v1.9.6) gives back every file, its content and its
// executable bit.
func TestLayerUntarsAsSourceControllerDoes(t *testing.T) {
	for name, files := range layerCases() {
		b, err := Tarball(files)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := fluxtar.Untar(bytes.NewReader(b), dir, fluxtar.WithMaxUntarSize(-1), fluxtar.WithSkipSymlinks()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]File{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			c, _ := os.ReadFile(p)
			info, _ := d.Info()
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = File{Content: c, Executable: info.Mode()&0o100 != 0}
			return nil
		})
		if len(got) != len(files) {
			t.Errorf("%s: %d files extracted, want %d", name, len(got), len(files))
		}
		for _, f := range files {
			g, ok := got[f.Path]
			if !ok || !bytes.Equal(g.Content, f.Content) || g.Executable != f.Executable {
				t.Errorf("%s: %s extracted %v (%d bytes, executable %v), want %d bytes, executable %v", name, f.Path, ok, len(g.Content), g.Executable, len(f.Content), f.Executable)
			}
		}
	}
}

// A Builder compresses a region's shared files once and gives every
// artifact the bytes Build gives it alone, whatever was built before on
// the same (pooled) compressors and in whatever order.
func TestBuilderSharesTheSharedPartAndKeepsTheBytes(t *testing.T) {
	var units []Unit
	for r, region := range []string{"atlantic", "pacific", "indian"} {
		for c := range 6 {
			tag := fmt.Sprintf("%s-%d", region, c)
			files := []File{
				{Path: "apps/base/a/kustomization.yaml", Content: []byte("resources: []\n")},
				{Path: "apps/regions/" + region + "/kustomization.yaml", Content: bytes.Repeat([]byte("region "+region+"\n"), 200+r)},
				{Path: "clusters/" + region + "/" + tag + "/cluster-vars.yaml", Content: []byte("cluster: " + tag + "\nregion: " + region + "\n")},
				{Path: "infrastructure/base/crd.yaml", Content: pinnedFiles()[3].Content},
			}
			units = append(units, Unit{Tag: tag, Region: region, ID: "cluster/" + region + "/" + tag, Clusters: []string{tag}, Files: files})
		}
	}
	want := map[string]string{}
	for _, u := range units {
		a, err := Build(u, "cargo", "src")
		if err != nil {
			t.Fatal(err)
		}
		want[u.Tag] = a.Digest.String()
	}
	b := NewBuilder()
	for round := range 2 {
		order := rand.Perm(len(units))
		var wg sync.WaitGroup
		errs := make(chan error, len(units))
		for _, i := range order {
			wg.Go(func() {
				a, err := b.Build(units[i], "cargo", "src")
				if err == nil && a.Digest.String() != want[units[i].Tag] {
					err = fmt.Errorf("round %d: %s: digest %s with the Builder, %s alone", round, units[i].Tag, a.Digest, want[units[i].Tag])
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	}
	if len(b.shared) != 3 {
		t.Errorf("%d shared parts compressed for 3 regions", len(b.shared))
	}
	seen := map[string]bool{}
	for _, d := range want {
		seen[d] = true
	}
	if len(seen) != len(units) {
		t.Errorf("%d distinct digests for %d distinct artifacts", len(seen), len(units))
	}
}

// plainTarGz is the layer as fleetgen wrote it before the shared part was
// compressed once: every file sorted by path in one tar, one deflate
// stream at the default level.
func plainTarGz(t *testing.T, files []File) []byte {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tarEntries(tw, files, map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	var buf bytes.Buffer
	zw, _ := kgzip.NewWriterLevel(&buf, kgzip.DefaultCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	return buf.Bytes()
}

// The bytes a site downloads do not grow: a real artifact (the
// cargo-ships golden tree's) is no larger than one compressed in a single
// stream (the shared part, compressed once, is compressed harder).
func TestLayerIsNoLargerThanOneStream(t *testing.T) {
	root := "../testdata/golden/cargo-ships"
	for _, rc := range [][2]string{{"north-europe", "ne-feeder-1"}, {"transpacific", "tp-ship-0001"}} {
		var files []File
		for _, p := range Prefixes(rc[0], rc[1]) {
			err := filepath.WalkDir(filepath.Join(root, p), func(q string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(q)
				rel, _ := filepath.Rel(root, q)
				files = append(files, File{Path: filepath.ToSlash(rel), Content: b})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		b, err := Tarball(files)
		if err != nil {
			t.Fatal(err)
		}
		plain := plainTarGz(t, files)
		t.Logf("%s/%s: %d files, layer %d bytes, one stream %d bytes", rc[0], rc[1], len(files), len(b), len(plain))
		if len(b) > len(plain) {
			t.Errorf("%s/%s: layer %d bytes, one stream %d", rc[0], rc[1], len(b), len(plain))
		}
	}
}
