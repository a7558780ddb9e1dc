// Package lowlevel holds GPS108 cases, with an aliased import of unsafe.
package lowlevel

import u "unsafe"

func Bytes(s string) []byte {
	return u.Slice(u.StringData(s), len(s)) // want GPS108 GPS108
}

func Size() uintptr {
	var x int64
	return u.Sizeof(x)
}
