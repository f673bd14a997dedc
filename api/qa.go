package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// qaFiles is the QA page: search recordings, play them, read timelines.
//
//go:embed qa
var qaFiles embed.FS

// qaPage serves /qa and its script and style. The page itself holds no
// data; it calls the API with the token the user gives it.
func qaPage() http.HandlerFunc {
	sub, err := fs.Sub(qaFiles, "qa")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Only our own script, style, API and recordings: a recording's
		// metadata cannot pull in anything else.
		h.Set("Content-Security-Policy", "default-src 'self'; media-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + r.PathValue("file")
		files.ServeHTTP(w, r2)
	}
}
