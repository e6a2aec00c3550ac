//go:build !linux

package fsutil

import "os"

func syncfs(f *os.File) error { return f.Sync() }
