package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func unit(files ...File) Unit {
	return Unit{Tag: "ship-1", Region: "atlantic", ID: "cluster/atlantic/ship-1", Clusters: []string{"ship-1"}, Files: files}
}

var sample = []File{
	{Path: "apps/base/a/kustomization.yaml", Content: []byte("resources: []\n")},
	{Path: "clusters/atlantic/ship-1/kustomization.yaml", Content: []byte("resources: [apps.yaml]\n")},
	{Path: "infrastructure/base/run.sh", Executable: true, Content: []byte("#!/bin/sh\n")},
}

// The tarball carries nothing of the machine or the moment: fixed mtime,
// root owner without names, 0644/0755, folders before their files, and a
// gzip header with no name and no time.
func TestTarballIsReproducible(t *testing.T) {
	a, err := Tarball(sample)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Tarball(sample)
	if !bytes.Equal(a, b) {
		t.Fatal("two tarballs of the same files differ")
	}
	gz, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header name %q mtime %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d %q %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		want := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == "infrastructure/base/run.sh" {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	// The shared files first (what every cluster of the region holds),
	// then the cluster's own folder: see TestLayerIsOneGzipMemberOfOneTar.
	wantNames := []string{"apps/", "apps/base/", "apps/base/a/", "apps/base/a/kustomization.yaml",
		"infrastructure/", "infrastructure/base/", "infrastructure/base/run.sh",
		"clusters/", "clusters/atlantic/", "clusters/atlantic/ship-1/", "clusters/atlantic/ship-1/kustomization.yaml"}
	if len(names) != len(wantNames) {
		t.Fatalf("entries %v, want %v", names, wantNames)
	}
	for i := range names {
		if names[i] != wantNames[i] {
			t.Errorf("entry %d %s, want %s", i, names[i], wantNames[i])
		}
	}
	if _, err := Tarball([]File{sample[1], sample[0]}); err == nil {
		t.Error("unsorted files accepted")
	}
}

// Flux's format, fleetgen's annotations, and a digest that moves with the
// content only.
func TestBuildDigestFollowsTheContent(t *testing.T) {
	a, err := Build(unit(sample...), "cargo", "https://git.example.com/f.git")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(unit(sample...), "cargo", "https://git.example.com/f.git")
	if a.Digest != b.Digest {
		t.Fatalf("same content, digests %s and %s", a.Digest, b.Digest)
	}
	edited := append([]File(nil), sample...)
	edited[0].Content = []byte("resources: [x.yaml]\n")
	c, _ := Build(unit(edited...), "cargo", "https://git.example.com/f.git")
	if c.Digest == a.Digest || c.Key == a.Key {
		t.Fatal("an edited file left the digest or the content key unchanged")
	}
	m, err := a.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != ConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != ContentMediaType {
		t.Errorf("manifest config %s layers %+v", m.Config.MediaType, m.Layers)
	}
	for k, want := range map[string]string{FleetAnnotation: "cargo", ArtifactAnnotation: "cluster/atlantic/ship-1", SourceAnnotation: "https://git.example.com/f.git", ContentAnnotation: ContentKey(sample)} {
		if m.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], want)
		}
	}
	for _, k := range []string{"org.opencontainers.image.created", "org.opencontainers.image.revision"} {
		if _, ok := m.Annotations[k]; ok {
			t.Errorf("annotation %s would change the digest at every commit", k)
		}
	}
	// The layer's digests are those of its bytes (taken while writing,
	// not by decompressing).
	ls, _ := a.Image.Layers()
	d, _ := ls[0].Digest()
	diff, _ := ls[0].DiffID()
	if want, _, _ := v1.SHA256(bytes.NewReader(a.Layer)); d != want || m.Layers[0].Digest != want {
		t.Errorf("layer digest %s, sha256 of its bytes %s", d, want)
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.Layer))
	if err != nil {
		t.Fatal(err)
	}
	if want, _, _ := v1.SHA256(zr); diff != want {
		t.Errorf("layer diff id %s, sha256 of the tar %s", diff, want)
	}
	// The key computed from git blob ids (as publish does from the tree,
	// without reading blobs) equals the one computed from the contents.
	withIDs := append([]File(nil), sample...)
	for i := range withIDs {
		withIDs[i].Hash = withIDs[i].blobID()
		withIDs[i].Content = nil
	}
	if ContentKey(withIDs) != a.Key {
		t.Error("content key from blob ids differs from the key from contents")
	}
}

// pinnedFiles is a unit with a large, compressible file (as the SUC CRD
// is in every real artifact) and an executable.
func pinnedFiles() []File {
	var crd bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&crd, "  - name: field-%04d\n    type: string\n    description: what field %d holds\n", i, i*7%13)
	}
	return []File{
		{Path: "apps/base/a/kustomization.yaml", Content: []byte("resources: []\n")},
		{Path: "apps/regions/atlantic/kustomization.yaml", Content: []byte("resources: [../../base/a]\n")},
		{Path: "clusters/atlantic/ship-1/kustomization.yaml", Content: []byte("resources: [apps.yaml]\n")},
		{Path: "infrastructure/base/crd.yaml", Content: crd.Bytes()},
		{Path: "infrastructure/base/run.sh", Executable: true, Content: []byte("#!/bin/sh\n")},
	}
}

// The bytes of an artifact are part of what fleetgen promises: the same
// files give the same digest with every fleetgen built from go.mod's
// versions, so a faster build path must not move a single byte (every
// site would download its artifact again).
//
// The pins moved once, on purpose, when the layer's layout changed (the
// shared files first, compressed once per region, then the cluster's
// folder: see the layout in artifact.go): every artifact got a new digest
// and every site downloaded it once. Before: manifest
// sha256:78e0ff19b7a255eb4ac139a40ade0e725e22a1e88b3718b76680e6b7dd8aa348,
// layer sha256:20f2c66e1f7480e5a1d16486e3cbd76fd107a85d5a7229a4f54bb97d72026fe8
// (8,672 bytes; 7,407 now).
func TestBuildBytesArePinned(t *testing.T) {
	a, err := Build(unit(pinnedFiles()...), "cargo", "https://git.example.com/f.git")
	if err != nil {
		t.Fatal(err)
	}
	const (
		wantManifest = "sha256:8c79acd5d74c3b1ca055315e779e9bc8fe8151e2bc1a619185ccacc2e226487c"
		wantLayer    = "sha256:f18de83b441108bf22dfaf53305f3769f3b370b0065d5a001dae6a1f95a09bab"
	)
	layer, _, _ := v1.SHA256(bytes.NewReader(a.Layer))
	if a.Digest.String() != wantManifest || layer.String() != wantLayer {
		t.Errorf("manifest %s layer %s (%d bytes), want manifest %s layer %s", a.Digest, layer, len(a.Layer), wantManifest, wantLayer)
	}
	m, _ := a.Image.RawManifest()
	if int64(len(m)) != a.ManifestSize {
		t.Errorf("manifest size %d, the manifest has %d bytes", a.ManifestSize, len(m))
	}
}

// buildViaMutate is how Build made the image before it wrote the manifest
// itself: go-containerregistry's mutate package.
func buildViaMutate(t *testing.T, u Unit, fleet, source string) v1.Image {
	t.Helper()
	l, err := (*Builder)(nil).layer(u.Files)
	if err != nil {
		t.Fatal(err)
	}
	b, diffID := l.b, l.diffID
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, ConfigMediaType)
	img, err = mutate.Append(img, mutate.Addendum{Layer: newLayer(b, diffID)})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Annotations(img, map[string]string{
		SourceAnnotation: source, FleetAnnotation: fleet, ArtifactAnnotation: u.ID, ContentAnnotation: ContentKey(u.Files),
	}).(v1.Image)
}

func TestBuildWritesWhatMutateWrites(t *testing.T) {
	for _, c := range []struct {
		files         []File
		fleet, source string
	}{
		{sample, "cargo", "https://git.example.com/f.git"},
		{pinnedFiles(), "cargo", "ssh://git@github.com/acme/fleet.git"},
		{pinnedFiles()[:1], `odd<&>"fleet"`, "https://git.example.com/a?b=1&c=<2>"},
	} {
		a, err := Build(unit(c.files...), c.fleet, c.source)
		if err != nil {
			t.Fatal(err)
		}
		want := buildViaMutate(t, unit(c.files...), c.fleet, c.source)
		for what, get := range map[string]func(v1.Image) ([]byte, error){
			"manifest": v1.Image.RawManifest, "config": v1.Image.RawConfigFile,
		} {
			got, err1 := get(a.Image)
			exp, err2 := get(want)
			if err1 != nil || err2 != nil || !bytes.Equal(got, exp) {
				t.Errorf("%s:\n%s (%v)\nmutate:\n%s (%v)", what, got, err1, exp, err2)
			}
		}
		wd, _ := want.Digest()
		gd, _ := a.Image.Digest()
		cn, _ := a.Image.ConfigName()
		wcn, _ := want.ConfigName()
		if a.Digest != wd || gd != wd || cn != wcn {
			t.Errorf("digest %s (image %s), mutate %s; config %s, mutate %s", a.Digest, gd, wd, cn, wcn)
		}
		if mt, _ := a.Image.MediaType(); mt != types.OCIManifestSchema1 {
			t.Errorf("media type %s", mt)
		}
	}
}
