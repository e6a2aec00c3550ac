package oci

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pulled is what a cluster's source-controller gets for a tag.
type Pulled struct {
	Digest      v1.Hash
	Annotations map[string]string
	// Files of the extracted first layer, by path (folders left out).
	Files map[string][]byte
	Modes map[string]int64
}

// Pull does what source-controller's OCIRepository reconciler does for a
// tag whose digest it has not stored yet (fluxcd/source-controller
// internal/controller/ocirepository_controller.go): HEAD the tag for its
// digest, fetch the manifest by digest, take the first layer and extract
// it as a gzipped tarball. known is the digest it already has: then it
// stops after the HEAD, as source-controller does (Files is nil).
func Pull(ctx context.Context, ref name.Tag, known v1.Hash, opts ...remote.Option) (*Pulled, error) {
	opts = append(opts, remote.WithContext(ctx))
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		d, gerr := remote.Get(ref, opts...)
		if gerr != nil {
			return nil, fmt.Errorf("%s: %w", ref, errors.Join(err, gerr))
		}
		desc = &d.Descriptor
	}
	p := &Pulled{Digest: desc.Digest}
	if desc.Digest == known {
		return p, nil
	}
	img, err := remote.Image(ref.Context().Digest(desc.Digest.String()), opts...)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	p.Annotations = m.Annotations
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("%s: no layers found in artifact", ref)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	p.Files, p.Modes, err = untar(rc)
	return p, err
}

func untar(r io.Reader) (map[string][]byte, map[string]int64, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("requires gzip-compressed body: %w", err)
	}
	files, modes := map[string][]byte{}, map[string]int64{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, modes, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, err
		}
		files[h.Name], modes[h.Name] = b, h.Mode
	}
}

// CountingListener counts the bytes every accepted connection reads and
// writes: a registry served on it shows exactly what crossed the wire
// (HTTP/1.1 without TLS; TLS adds its records and handshake). Tests and the
// benchmarks use it to measure what a site downloads.
type CountingListener struct {
	net.Listener
	Read, Written atomic.Int64
}

func (l *CountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *CountingListener
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.Read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.Written.Add(int64(n))
	return n, err
}
