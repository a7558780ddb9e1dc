// Package archives holds GPS112 and GPS113 cases.
package archives

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
)

func Untar(r io.Reader, dst string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, hdr.Name) // want GPS112
		f, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			return err
		}
		f.Close()
	}
}

func Gunzip(r io.Reader, w io.Writer) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, gz) // want GPS113
	return err
}

func GunzipLimited(r io.Reader, w io.Writer) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, io.LimitReader(gz, 1<<20))
	return err
}

func Unzip(zr *zip.Reader, dst string) error {
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			return errors.New("unsafe path in archive: " + f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc) // want GPS113
		rc.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, f.Name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
