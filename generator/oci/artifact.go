// Package oci builds and publishes the OCI artifacts of a fleet in
// spec.delivery.mode oci: one artifact per cluster (or per region) holding
// only the files that cluster applies, at the same paths as in git, in
// Flux's artifact format (what `flux push artifact` writes and
// source-controller's OCIRepository pulls: fluxcd/pkg/oci).
//
// Artifacts are reproducible: the same files give the same manifest digest,
// whatever the commit, the machine or the time. That is what lets a site
// skip a commit that did not touch it: source-controller polls the tag with
// a manifest HEAD and downloads the layer only when the digest changed.
package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// Flux's media types (fluxcd/pkg/oci globals.go): source-controller
// extracts the first layer, a gzipped tarball.
const (
	ConfigMediaType  types.MediaType = "application/vnd.cncf.flux.config.v1+json"
	ContentMediaType types.MediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// Annotations of every artifact. SourceAnnotation is the OpenContainers
// one Flux sets too; FleetAnnotation and ArtifactAnnotation say that
// fleetgen made the artifact and for what, so that publish never
// overwrites a tag it did not make. There is deliberately no revision or
// created annotation: a commit id or a time in the manifest would change
// every artifact's digest at every commit, and every site would download
// its artifact again for a commit that did not touch it.
const (
	SourceAnnotation   = "org.opencontainers.image.source"
	FleetAnnotation    = "dev.fleetgen.fleet"
	ArtifactAnnotation = "dev.fleetgen.artifact"
	// ContentAnnotation is the unit's ContentKey: publish compares it with
	// the tag's manifest to skip an unchanged unit without reading or
	// compressing its files. It depends only on the content, so it keeps
	// the digest reproducible.
	ContentAnnotation = "dev.fleetgen.content"
)

// File is one file of an artifact.
type File struct {
	Path       string // slash-separated, relative to the repository root
	Executable bool
	// Hash is the git blob id of Content (hex); computed from Content
	// when empty.
	Hash    string
	Content []byte // nil until loaded (Source.Load)
}

func (f File) blobID() string {
	if f.Hash != "" {
		return f.Hash
	}
	return plumbing.ComputeHash(plumbing.BlobObject, f.Content).String()
}

// ContentKey identifies what an artifact holds: sha256 of each file's
// mode, path and git blob id, in path order. Same files, same key; it is
// computed from a commit's tree without reading a single blob.
func ContentKey(files []File) string {
	h := sha256.New()
	for _, f := range files {
		mode := "100644"
		if f.Executable {
			mode = "100755"
		}
		fmt.Fprintf(h, "%s %s %s\n", mode, f.Path, f.blobID())
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Unit is what one artifact holds: the files a cluster (or every cluster
// of a region) applies.
type Unit struct {
	Tag    string // the cluster's name, or the region's
	Region string
	// ID names the unit in ArtifactAnnotation: cluster/<region>/<cluster>
	// or region/<region>.
	ID string
	// Clusters that sync this artifact.
	Clusters []string
	Files    []File // sorted by path
	Key      string // ContentKey(Files)
}

// Prefixes are the folders the artifact of cluster (or of the whole
// region, when cluster is "") holds: the bases, the region's overlays and
// the cluster folder(s) — what a GitRepository's sparseCheckout keeps.
func Prefixes(region, cluster string) []string {
	c := "clusters/" + region
	if cluster != "" {
		c += "/" + cluster
	}
	return []string{"apps/base", "apps/regions/" + region, c, "infrastructure/base", "infrastructure/regions/" + region}
}

// RepoPrefixes are the folders any artifact reads from.
func RepoPrefixes() []string {
	return []string{"apps/base", "apps/regions", "clusters", "infrastructure/base", "infrastructure/regions"}
}

// Units splits the files of a commit (sorted by path) into the artifacts
// of the fleet, in the fleet's unit, sorted by tag.
func Units(l *spec.Loaded, files []File) []Unit {
	return unitsFor(l, files, nil)
}

// unitsFor is Units of the regions for which want is true (nil: all).
func unitsFor(l *spec.Loaded, files []File, want func(region string) bool) []Unit {
	// Group the files once by their top folders, so that 5,000 clusters
	// do not each scan every file.
	shared := map[string][]File{} // "apps/base", "apps/regions/<r>", ...
	perCluster := map[string][]File{}
	for _, f := range files {
		parts := strings.SplitN(f.Path, "/", 4)
		switch {
		case len(parts) >= 3 && (parts[0] == "apps" || parts[0] == "infrastructure") && parts[1] == "base":
			shared[parts[0]+"/base"] = append(shared[parts[0]+"/base"], f)
		case len(parts) >= 4 && (parts[0] == "apps" || parts[0] == "infrastructure") && parts[1] == "regions":
			k := parts[0] + "/regions/" + parts[2]
			shared[k] = append(shared[k], f)
		case len(parts) >= 4 && parts[0] == "clusters":
			k := parts[1] + "/" + parts[2]
			perCluster[k] = append(perCluster[k], f)
		}
	}
	var units []Unit
	for _, r := range l.Spec.Regions {
		if want != nil && !want(r.Name) {
			continue
		}
		base := [][]File{shared["apps/base"], shared["apps/regions/"+r.Name], shared["infrastructure/base"], shared["infrastructure/regions/"+r.Name]}
		for _, u := range regionUnits(l, r.Name) {
			parts := append([][]File(nil), base...)
			for _, c := range u.Clusters {
				parts = append(parts, perCluster[r.Name+"/"+c])
			}
			u.Files = merge(parts)
			u.Key = ContentKey(u.Files)
			units = append(units, u)
		}
	}
	sortUnits(units)
	return units
}

// regionUnits are the units of a region without their files: tags, IDs
// and clusters, in the region's cluster order.
func regionUnits(l *spec.Loaded, region string) []Unit {
	cs := l.RegionClusters(region)
	if l.Spec.Delivery.Unit == "region" {
		u := Unit{Tag: region, Region: region, ID: "region/" + region, Clusters: make([]string, 0, len(cs))}
		for _, c := range cs {
			u.Clusters = append(u.Clusters, c.Name)
		}
		return []Unit{u}
	}
	units := make([]Unit, len(cs))
	for i, c := range cs {
		units[i] = Unit{Tag: c.Name, Region: region, ID: "cluster/" + region + "/" + c.Name, Clusters: []string{c.Name}}
	}
	return units
}

func sortUnits(units []Unit) {
	slices.SortFunc(units, func(a, b Unit) int { return strings.Compare(a.Tag, b.Tag) })
}

func merge(parts [][]File) []File {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]File, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Artifact is a built unit.
type Artifact struct {
	Unit
	Image v1.Image
	// Digest is the manifest's: what the tag points at and what a
	// cluster's OCIRepository compares at every poll.
	Digest v1.Hash
	// Layer is the tar.gz a cluster downloads when the digest changed.
	Layer []byte
	// ManifestSize is the bytes of the manifest a cluster downloads then.
	ManifestSize int64
}

// epoch is the modification time of every entry: fixed, so the bytes
// depend only on the content (archive/tar cannot write the zero time
// without PAX records).
var epoch = time.Unix(0, 0).UTC()

// gzipWriters are reused: a deflate writer's state is about a megabyte,
// and publish makes thousands of small tarballs.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression) // a valid level: no error
	return w
}}

// Tarball writes files (sorted by path) as a reproducible tar.gz: entries
// sorted, each folder before its files, fixed mtime, uid/gid 0, no user
// or group names, modes 0755/0644, gzip without name or mtime. The bytes
// depend only on the paths, contents and executable bits (and on the
// deflate implementation, github.com/klauspost/compress at the version in
// go.mod: 4-5 times faster than compress/flate here).
func Tarball(files []File) ([]byte, error) {
	b, _, err := tarballDiffID(files)
	return b, err
}

// tarballDiffID is Tarball, with the sha256 of the uncompressed tar (the
// layer's diff id) taken as it is written rather than by decompressing.
func tarballDiffID(files []File) ([]byte, v1.Hash, error) {
	var buf bytes.Buffer
	gz := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(gz)
	gz.Reset(&buf)
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, diff))
	dirs := map[string]bool{}
	var addDir func(d string) error
	addDir = func(d string) error {
		if d == "." || dirs[d] {
			return nil
		}
		if err := addDir(path.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
	}
	prev := ""
	for _, f := range files {
		if f.Path <= prev && prev != "" {
			return nil, v1.Hash{}, fmt.Errorf("tarball: %q after %q: files must be sorted and unique", f.Path, prev)
		}
		prev = f.Path
		if err := addDir(path.Dir(f.Path)); err != nil {
			return nil, v1.Hash{}, err
		}
		mode := int64(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: mode, Size: int64(len(f.Content)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, v1.Hash{}, err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, v1.Hash{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, v1.Hash{}, err
	}
	if err := gz.Close(); err != nil {
		return nil, v1.Hash{}, err
	}
	return buf.Bytes(), v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}, nil
}

// layer is a built tar.gz with its digests known: go-containerregistry's
// tarball layers decompress the bytes again to find the diff id.
type layer struct {
	b              []byte
	digest, diffID v1.Hash
}

func newLayer(b []byte, diffID v1.Hash) *layer {
	sum := sha256.Sum256(b)
	return &layer{b: b, diffID: diffID, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
}

func (l *layer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *layer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *layer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l *layer) MediaType() (types.MediaType, error) { return ContentMediaType, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.b))
}

// Build makes the artifact of u: Flux's config media type (an empty
// config with no timestamp), one tar.gz layer, and fleetgen's annotations.
// fleet is metadata.name, source the git URL (spec.git.url).
//
// The manifest is written directly, as go-containerregistry's mutate
// package writes it (the same bytes: TestBuildBytesArePinned), without its
// recomputing of digests and configs at every call: publish builds
// thousands of artifacts.
func Build(u Unit, fleet, source string) (*Artifact, error) {
	for _, f := range u.Files {
		if f.Content == nil && f.Hash != "" {
			return nil, fmt.Errorf("artifact %s: %s not loaded", u.Tag, f.Path)
		}
	}
	layerBytes, diffID, err := tarballDiffID(u.Files)
	if err != nil {
		return nil, err
	}
	if u.Key == "" {
		u.Key = ContentKey(u.Files)
	}
	cfg, err := emptyConfig()
	if err != nil {
		return nil, err
	}
	l := newLayer(layerBytes, diffID)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        cfg.desc,
		Layers:        []v1.Descriptor{{MediaType: ContentMediaType, Size: int64(len(layerBytes)), Digest: l.digest}},
		Annotations: map[string]string{
			SourceAnnotation:   source,
			FleetAnnotation:    fleet,
			ArtifactAnnotation: u.ID,
			ContentAnnotation:  u.Key,
		},
	}
	raw, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	img, _ := partial.CompressedToImage(&image{manifest: raw, config: cfg.raw, layer: l}) // never fails
	return &Artifact{Unit: u, Image: img, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		Layer: layerBytes, ManifestSize: int64(len(raw))}, nil
}

// config is the config blob every artifact shares.
type config struct {
	raw  []byte
	desc v1.Descriptor
}

// emptyConfig is the config go-containerregistry writes for an empty
// image with Flux's config media type (no timestamp, no layers listed).
var emptyConfig = sync.OnceValues(func() (config, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), ConfigMediaType)
	raw, err := img.RawConfigFile()
	if err != nil {
		return config{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return config{}, err
	}
	return config{raw: raw, desc: m.Config}, nil
})

// image is a built artifact as a go-containerregistry image.
type image struct {
	manifest, config []byte
	layer            *layer
}

func (i *image) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *image) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.layer.digest {
		return i.layer, nil
	}
	return nil, fmt.Errorf("artifact: no layer %s", h)
}
