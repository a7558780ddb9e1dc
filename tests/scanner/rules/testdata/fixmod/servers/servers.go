// Package servers holds GPS110 and GPS114 cases.
package servers

import (
	"net"
	"net/http"
	"time"
)

func Serve(h http.Handler, l net.Listener) error {
	if err := http.ListenAndServe(":8080", h); err != nil { // want GPS110 GPS114
		return err
	}
	if err := http.Serve(l, h); err != nil { // want GPS110
		return err
	}
	bare := &http.Server{Addr: "0.0.0.0:8443", Handler: h} // want GPS110 GPS114
	safe := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 5 * time.Second}
	later := &http.Server{Addr: "localhost:9090", Handler: h}
	later.ReadTimeout = 10 * time.Second
	for _, s := range []*http.Server{bare, safe, later} {
		go s.ListenAndServe()
	}
	public, err := net.Listen("tcp", "0.0.0.0:9000") // want GPS114
	if err != nil {
		return err
	}
	defer public.Close()
	local, err := net.Listen("tcp", "127.0.0.1:9001")
	if err != nil {
		return err
	}
	return local.Close()
}
