// Package debugsrv imports net/http/pprof in production code: GPS116.
package debugsrv

import (
	"net/http"
	_ "net/http/pprof" // want GPS116
)

func Mux() *http.ServeMux { return http.DefaultServeMux }
