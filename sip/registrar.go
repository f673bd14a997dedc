package sip

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of an agent's phone (RFC 3261 §10).
type Binding struct {
	User      string  // the address-of-record's user part: the agent's phone ID
	Contact   sip.Uri // where the phone asked to be reached
	Source    string  // ip:port the REGISTER came from; we send there (NAT)
	Transport string  // "UDP", "TCP" or "TLS"
	CallID    string  // the REGISTER's Call-ID, so refreshes replace rather than add
	UserAgent string
	Expires   time.Time
	Updated   time.Time
}

// RegistrationChange tells the owner an agent's phone came or went.
type RegistrationChange struct {
	User       string
	Registered bool // false when the last binding expired or was removed
	Reason     string
}

// Registrar keeps the bindings of agents' phones. It is safe for concurrent use;
// onChange is called outside the lock, in the order changes happened for a user.
type Registrar struct {
	mu       sync.Mutex
	bindings map[string][]Binding // by user, newest first
	onChange func(RegistrationChange)
	// notifyMu is held from a change until its notice is delivered, so owners
	// see registrations come and go in the order they happened.
	notifyMu sync.Mutex
}

// NewRegistrar returns an empty registrar.
func NewRegistrar(onChange func(RegistrationChange)) *Registrar {
	if onChange == nil {
		onChange = func(RegistrationChange) {}
	}
	return &Registrar{bindings: make(map[string][]Binding), onChange: onChange}
}

// Lookup returns the newest binding of user.
func (r *Registrar) Lookup(user string) (Binding, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.bindings[user]
	if len(bs) == 0 {
		return Binding{}, false
	}
	return bs[0], true
}

// Bindings returns a copy of every binding, sorted by user.
// HasSource reports whether user has a binding registered from source
// (ip:port): a request from there is that phone's.
func (r *Registrar) HasSource(user, source string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bindings[user] {
		if b.Source == source {
			return true
		}
	}
	return false
}

func (r *Registrar) Bindings() []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Binding
	for _, bs := range r.bindings {
		out = append(out, bs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Updated.After(out[j].Updated)
	})
	return out
}

// Count returns the number of bindings.
func (r *Registrar) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, bs := range r.bindings {
		n += len(bs)
	}
	return n
}

// Update adds or refreshes b (matched by contact URI); remove drops it.
func (r *Registrar) Update(b Binding, remove bool) {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.mu.Lock()
	bs := r.bindings[b.User]
	before := len(bs)
	kept := bs[:0]
	for _, old := range bs {
		if sameContact(old.Contact, b.Contact) {
			continue
		}
		kept = append(kept, old)
	}
	if !remove {
		kept = append([]Binding{b}, kept...)
	}
	r.set(b.User, kept)
	after := len(kept)
	r.mu.Unlock()
	r.notify(b.User, before, after, "register")
}

// RemoveAll drops every binding of user (Contact: * with Expires: 0).
func (r *Registrar) RemoveAll(user string) {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.mu.Lock()
	before := len(r.bindings[user])
	delete(r.bindings, user)
	r.mu.Unlock()
	r.notify(user, before, 0, "unregister")
}

// Sweep drops expired bindings.
func (r *Registrar) Sweep(now time.Time) {
	type change struct {
		user          string
		before, after int
	}
	var changes []change
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.mu.Lock()
	for user, bs := range r.bindings {
		kept := bs[:0]
		for _, b := range bs {
			if now.Before(b.Expires) {
				kept = append(kept, b)
			}
		}
		if len(kept) != len(bs) {
			changes = append(changes, change{user, len(bs), len(kept)})
			r.set(user, kept)
		}
	}
	r.mu.Unlock()
	for _, c := range changes {
		r.notify(c.user, c.before, c.after, "expired")
	}
}

func (r *Registrar) set(user string, bs []Binding) {
	if len(bs) == 0 {
		delete(r.bindings, user)
		return
	}
	r.bindings[user] = bs
}

func (r *Registrar) notify(user string, before, after int, reason string) {
	switch {
	case before == 0 && after > 0:
		r.onChange(RegistrationChange{User: user, Registered: true, Reason: reason})
	case before > 0 && after == 0:
		r.onChange(RegistrationChange{User: user, Registered: false, Reason: reason})
	}
}

func sameContact(a, b sip.Uri) bool {
	return strings.EqualFold(a.User, b.User) && strings.EqualFold(a.Host, b.Host) && a.Port == b.Port
}

// requestedExpiry reads the Contact's expires parameter, else the Expires header
// (RFC 3261 §10.2.1.1), else def.
func requestedExpiry(req *sip.Request, contact *sip.ContactHeader, def time.Duration) time.Duration {
	if contact != nil && contact.Params != nil {
		if v, ok := contact.Params.Get("expires"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return def
}

// sourceAddr parses a sipgo "ip:port" source into an address for ACL checks.
func sourceAddr(s string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
