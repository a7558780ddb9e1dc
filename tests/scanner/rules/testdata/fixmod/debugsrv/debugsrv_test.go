package debugsrv

import (
	"net/http/httptest"
	_ "net/http/pprof" // tests may profile themselves: no finding
	"testing"
)

func TestMux(t *testing.T) {
	srv := httptest.NewServer(Mux())
	defer srv.Close()
}
