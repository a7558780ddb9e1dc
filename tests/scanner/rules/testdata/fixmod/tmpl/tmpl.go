// Package tmpl holds GPS115 cases where the template text shows it is HTML.
package tmpl

import (
	"io"
	"text/template"
)

var page = template.Must(template.New("page").Parse("<html><body>{{.}}</body></html>")) // want GPS115

var plain = template.Must(template.New("plain").Parse("Hello, {{.}}!\n"))

func Render(w io.Writer, name string) error {
	files, err := template.ParseFiles("templates/index.html") // want GPS115
	if err != nil {
		return err
	}
	if err := files.Execute(w, name); err != nil {
		return err
	}
	if err := plain.Execute(w, name); err != nil {
		return err
	}
	return page.Execute(w, name)
}
