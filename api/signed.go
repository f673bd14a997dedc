package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// recordingLinkTTL is how long a signed recording link plays: long enough
// to listen to a call, short enough that a copied link soon stops working.
const recordingLinkTTL = 15 * time.Minute

// linkNow is the links' clock (tests move it).
var linkNow = time.Now

// linkSigner signs recording links with a key made at start-up: links die
// with the process, and nothing secret is stored.
type linkSigner struct{ key [32]byte }

func newLinkSigner() *linkSigner {
	s := &linkSigner{}
	if _, err := rand.Read(s.key[:]); err != nil {
		panic("api: no randomness for the link key: " + err.Error())
	}
	return s
}

// sign returns the signature of a link to call id's recording (stage: a
// stage slice, "" the whole call) made for a token by name and role,
// valid until expires.
func (s *linkSigner) sign(id, stage, by string, role config.Role, expires int64) string {
	m := hmac.New(sha256.New, s.key[:])
	for _, part := range []string{id, stage, by, role.String(), strconv.FormatInt(expires, 10)} {
		m.Write([]byte(part))
		m.Write([]byte{0}) // no part can run into the next
	}
	return hex.EncodeToString(m.Sum(nil))
}

// recordingLink serves POST /api/v1/recordings/{id}/link[?stage=talk]: a
// URL that plays the recording without the API token (an <audio> element
// cannot send one), for recordingLinkTTL. The token must be allowed to
// fetch the recording now; each use is audited under its name.
func (a *api) recordingLink(w http.ResponseWriter, r *http.Request) {
	c, ok := a.pathCall(w, r)
	if !ok {
		return
	}
	p := who(r)
	if !p.mayReadCall(c) {
		writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not fetch this call's recording")
		return
	}
	stage := sliceOf(r.URL.Query())
	expires := linkNow().Add(recordingLinkTTL).Unix()
	q := url.Values{}
	for _, k := range []string{"stage", "seq"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("by", p.name)
	q.Set("expires", strconv.FormatInt(expires, 10))
	q.Set("sig", a.links.sign(c.CallID, stage, p.name, p.role, expires))
	writeJSON(w, http.StatusOK, map[string]any{
		"url":     "/api/v1/recordings/" + url.PathEscape(c.CallID) + "?" + q.Encode(),
		"expires": time.Unix(expires, 0).UTC(),
	})
}

// sliceOf names the part of a recording a link is for: its stage and seq
// parameters, both signed.
func sliceOf(q url.Values) string { return q.Get("stage") + "#" + q.Get("seq") }

// authOrSigned admits a request with a valid signed link (the token that
// made it must still exist with the same role) as that token, and any
// other through auth.
func (a *api) authOrSigned(next http.HandlerFunc) http.HandlerFunc {
	withToken := a.auth(next)
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("sig") {
			withToken(w, r)
			return
		}
		by, sig := q.Get("by"), q.Get("sig")
		expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		var role config.Role
		found := false
		for _, t := range a.Config().HTTP.Tokens {
			if t.Name == by {
				role, found = t.Role, true
			}
		}
		want := a.links.sign(r.PathValue("id"), sliceOf(q), by, role, expires)
		switch {
		case err != nil || !found || !hmac.Equal([]byte(strings.ToLower(sig)), []byte(want)):
			writeError(w, http.StatusForbidden, "invalid link")
		case linkNow().Unix() > expires:
			writeError(w, http.StatusForbidden, "the link has expired; ask for a new one")
		default:
			next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &principal{name: by, role: role})))
		}
	}
}
