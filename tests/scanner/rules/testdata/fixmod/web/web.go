// Package web renders with text/template in an HTTP handler: GPS115 on the import.
package web

import (
	"net/http"
	"text/template" // want GPS115
)

var greeting = template.Must(template.New("g").Parse("Hello, {{.}}"))

func Handler(w http.ResponseWriter, r *http.Request) {
	_ = greeting.Execute(w, r.URL.Query().Get("name"))
}
