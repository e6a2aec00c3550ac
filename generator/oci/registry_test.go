package oci

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// go-containerregistry's registry cuts tags/list at n without a Link
// header: the list must still be whole, or publish would push over tags
// it never checked.
func TestListTagsReadsEveryPage(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/fleet", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newRegistryClient(context.Background(), PublishOptions{Repository: repo}, DefaultTimeout, 1)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := c.listTags(context.Background())
	if err != nil || len(tags) != 0 {
		t.Fatalf("a repository that does not exist yet: %v, %v", tags, err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = tagPage + 100
	for i := range n {
		if err := remote.Write(repo.Tag(fmt.Sprintf("c-%05d", i)), img); err != nil {
			t.Fatal(err)
		}
	}
	before := c.requests.Load()
	tags, err = c.listTags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != n || !tags["c-00000"] || !tags[fmt.Sprintf("c-%05d", n-1)] {
		t.Errorf("%d tags listed, want %d", len(tags), n)
	}
	if got := c.requests.Load() - before; got > 4 {
		t.Errorf("%d requests to list %d tags", got, n)
	}
}
