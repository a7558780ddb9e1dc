package main

import (
	"log"
	"net/http"
)

func serve(srv *http.Server) {
	// Server.ListenAndServe is listed by GO-2022-0969 (HTTP/2 server, Go 1.19.0).
	log.Fatal(srv.ListenAndServe())
}

func main() {
	serve(&http.Server{Addr: ":8080"})
}
