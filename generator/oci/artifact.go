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
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
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
	"github.com/klauspost/compress/flate"
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

// The layer's layout. Every cluster artifact of a region repeats the same
// shared files (apps/base, infrastructure/base with the 72 KB
// system-upgrade-controller CRD, the region's overlays): ~95% of its
// bytes. They are written first, compressed once per distinct set of
// shared files (Builder caches them), and each artifact adds its own
// clusters/ part after them, in the same gzip member:
//
//	gzip header | deflate of the shared tar entries, ended by a sync flush
//	            | deflate of the clusters/ entries and the end-of-archive
//	              blocks, final block, compressed with the last dictSize
//	              bytes of the shared entries as its dictionary
//	            | CRC-32 and size of the whole tar
//
// A sync flush (an empty stored block, not final) leaves the deflate
// stream byte-aligned, so the second part's blocks follow it in the same
// stream (RFC 1951 3.2.3: blocks are independent but for back-references
// within the 32 KB window); its dictionary is exactly the uncompressed
// bytes that precede it, so its back-references into them resolve as a
// single compressor's would. The result is one ordinary gzip member and
// one tar stream, which any gzip and tar reader reads (source-controller:
// compress/gzip then archive/tar in fluxcd/pkg/tar Untar); the
// end-of-archive blocks are written once, at the very end.
const (
	// gzipLevel compresses the clusters/ part; sharedLevel the shared
	// part, compressed once per region (per artifact when the unit is the
	// region): the slowest level costs nothing there and makes each
	// artifact ~5% smaller than one default-level stream
	// (TestLayerIsNoLargerThanOneStream). Any level writes standard
	// deflate blocks.
	gzipLevel   = gzip.DefaultCompression
	sharedLevel = flate.BestCompression
	// dictSize is how much of the shared entries the clusters/ part may
	// refer back to. Filling a dictionary costs about as much as
	// compressing it. On the cargo-ships golden artifacts (shared part at
	// the default level, against one stream): no dictionary +2.4%, 4 KB
	// +1.0%, 8 KB +0.8%, 16 or 32 KB +0.7%.
	dictSize = 8 << 10
)

// gzipHeader is what compress/gzip and klauspost's gzip write with no
// name, comment or time at the default level: magic, CM 8 (deflate), no
// flags, MTIME 0, XFL 0, OS 255 (unknown) (RFC 1952 2.3).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// sharedPart is the compressed shared part of a layer, with what the
// clusters/ part needs to continue it.
type sharedPart struct {
	deflate []byte // raw deflate blocks, ending with a sync flush
	dict    []byte // the last dictSize bytes of its tar entries
	crc     uint32 // CRC-32 of its tar entries
	size    int64  // bytes of its tar entries
	// diffState and digestState are sha256 states (MarshalBinary) after
	// its tar entries, and after gzipHeader and deflate.
	diffState, digestState []byte
}

// flateWriters (sharedLevel, reset without a dictionary) and dictWriters
// (gzipLevel, reset with ResetDict only: a writer's Reset reuses the last
// dictionary it was given) are reused: a deflate writer's state is
// hundreds of kilobytes, and publish makes thousands of layers.
var flateWriters, dictWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, sharedLevel) // a valid level: no error
	return w
}}, sync.Pool{New: newFlateWriter}

func newFlateWriter() any {
	w, _ := flate.NewWriter(nil, gzipLevel) // a valid level: no error
	return w
}

// Builder builds artifacts, compressing each distinct shared part (the
// files outside clusters/) once: the artifacts of a region's clusters
// share it. Its output is byte for byte Build's. Safe for concurrent use.
type Builder struct {
	mu     sync.Mutex
	shared map[string]func() (*sharedPart, error) // by ContentKey
}

// NewBuilder returns a Builder with an empty cache.
func NewBuilder() *Builder {
	return &Builder{shared: map[string]func() (*sharedPart, error){}}
}

func (b *Builder) sharedPart(files []File) (*sharedPart, error) {
	if b == nil {
		return newSharedPart(files)
	}
	key := ContentKey(files)
	b.mu.Lock()
	get, ok := b.shared[key]
	if !ok {
		get = sync.OnceValues(func() (*sharedPart, error) { return newSharedPart(files) })
		b.shared[key] = get
	}
	b.mu.Unlock()
	return get()
}

// tarEntries writes files (sorted) as tar entries, each folder (not yet
// in dirs) before its files, without the end-of-archive blocks.
func tarEntries(tw *tar.Writer, files []File, dirs map[string]bool) error {
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
	for _, f := range files {
		if err := addDir(path.Dir(f.Path)); err != nil {
			return err
		}
		mode := int64(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: mode, Size: int64(len(f.Content)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return err
		}
	}
	return tw.Flush() // the last entry's padding
}

func newSharedPart(files []File) (*sharedPart, error) {
	var raw bytes.Buffer
	if err := tarEntries(tar.NewWriter(&raw), files, map[string]bool{}); err != nil {
		return nil, err
	}
	var z bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	fw.Reset(&z)
	if _, err := fw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil { // sync flush: byte-aligned, not final
		return nil, err
	}
	p := &sharedPart{deflate: bytes.Clone(z.Bytes()), crc: crc32.ChecksumIEEE(raw.Bytes()), size: int64(raw.Len())}
	p.dict = bytes.Clone(raw.Bytes()[max(0, raw.Len()-dictSize):])
	diff := sha256.New()
	diff.Write(raw.Bytes())
	dig := sha256.New()
	dig.Write(gzipHeader)
	dig.Write(p.deflate)
	var err error
	if p.diffState, err = diff.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return nil, err
	}
	if p.digestState, err = dig.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return nil, err
	}
	return p, nil
}

// resume is a sha256 hash in state (sharedPart's).
func resume(state []byte) (hash.Hash, error) {
	h := sha256.New()
	return h, h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
}

// splitShared returns the files outside clusters/ and those under it,
// each sorted, after checking that files are sorted and unique.
func splitShared(files []File) (shared, own []File, err error) {
	for i, f := range files {
		if i > 0 && f.Path <= files[i-1].Path {
			return nil, nil, fmt.Errorf("tarball: %q after %q: files must be sorted and unique", f.Path, files[i-1].Path)
		}
		if strings.HasPrefix(f.Path, "clusters/") {
			own = append(own, f)
		} else {
			shared = append(shared, f)
		}
	}
	return shared, own, nil
}

// Tarball writes files (sorted by path) as a reproducible tar.gz: the
// files outside clusters/ first, then those under it, each in path order
// and each folder before its files; fixed mtime, uid/gid 0, no user or
// group names, modes 0755/0644, gzip without name or mtime. The bytes
// depend only on the paths, contents and executable bits (and on the
// deflate implementation, github.com/klauspost/compress at the version in
// go.mod: 4-5 times faster than compress/flate here).
func Tarball(files []File) ([]byte, error) {
	l, err := (*Builder)(nil).layer(files)
	if err != nil {
		return nil, err
	}
	return l.b, nil
}

// layer builds the tar.gz of files (see the layout above), with its
// digest and diff id taken as it is written rather than by decompressing.
func (b *Builder) layer(files []File) (*layer, error) {
	shared, own, err := splitShared(files)
	if err != nil {
		return nil, err
	}
	p, err := b.sharedPart(shared)
	if err != nil {
		return nil, err
	}
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tarEntries(tw, own, map[string]bool{}); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil { // the end-of-archive blocks
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, len(gzipHeader)+len(p.deflate)+raw.Len()/3+64))
	out.Write(gzipHeader)
	out.Write(p.deflate)
	tail := out.Len()
	fw := dictWriters.Get().(*flate.Writer)
	defer dictWriters.Put(fw)
	fw.ResetDict(out, p.dict)
	if _, err := fw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32.Update(p.crc, crc32.IEEETable, raw.Bytes()))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(p.size+int64(raw.Len()))) // ISIZE: the size modulo 2^32
	out.Write(trailer[:])

	diff, err := resume(p.diffState)
	if err != nil {
		return nil, err
	}
	diff.Write(raw.Bytes())
	dig, err := resume(p.digestState)
	if err != nil {
		return nil, err
	}
	dig.Write(out.Bytes()[tail:])
	return &layer{b: out.Bytes(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(dig.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}}, nil
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
	return (*Builder)(nil).Build(u, fleet, source)
}

// Build is the package's Build, with the shared part of the layer
// compressed once per distinct shared files (a nil Builder caches
// nothing).
func (b *Builder) Build(u Unit, fleet, source string) (*Artifact, error) {
	for _, f := range u.Files {
		if f.Content == nil && f.Hash != "" {
			return nil, fmt.Errorf("artifact %s: %s not loaded", u.Tag, f.Path)
		}
	}
	l, err := b.layer(u.Files)
	if err != nil {
		return nil, err
	}
	layerBytes := l.b
	if u.Key == "" {
		u.Key = ContentKey(u.Files)
	}
	cfg, err := emptyConfig()
	if err != nil {
		return nil, err
	}
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
