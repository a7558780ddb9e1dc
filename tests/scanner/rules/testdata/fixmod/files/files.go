// Package files holds GPS111 cases.
package files

import (
	"io/fs"
	"os"
)

func Write(dir string, data []byte) error {
	if err := os.WriteFile(dir+"/a", data, 0644); err != nil { // want GPS111
		return err
	}
	if err := os.WriteFile(dir+"/b", data, 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(dir+"/c", 0755); err != nil { // want GPS111
		return err
	}
	if err := os.Mkdir(dir+"/d", 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(dir+"/e", os.O_CREATE|os.O_WRONLY, 0o666) // want GPS111
	if err != nil {
		return err
	}
	f.Close()
	if err := os.Chmod(dir+"/e", fs.ModePerm); err != nil { // want GPS111
		return err
	}
	return os.Chmod(dir+"/b", 0400)
}
