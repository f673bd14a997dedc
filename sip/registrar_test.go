package sip

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestRegistrarExpiryAndRefresh(t *testing.T) {
	var changes []RegistrationChange
	r := NewRegistrar(func(c RegistrationChange) { changes = append(changes, c) })
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	phone := sip.Uri{Scheme: "sip", User: "1003", Host: "127.0.0.1", Port: 5062}
	r.Update(Binding{User: "1003", Contact: phone, CallID: "a", Expires: now.Add(time.Minute)}, false)
	// A refresh (same Call-ID) replaces the binding instead of adding one.
	r.Update(Binding{User: "1003", Contact: phone, CallID: "a", Expires: now.Add(2 * time.Minute)}, false)
	if r.Count() != 1 || len(changes) != 1 || !changes[0].Registered {
		t.Fatalf("after refresh: %d bindings, changes %+v", r.Count(), changes)
	}
	// A second phone for the same agent: the newest is called.
	desk := sip.Uri{Scheme: "sip", User: "1003", Host: "127.0.0.1", Port: 5064}
	r.Update(Binding{User: "1003", Contact: desk, CallID: "b", Expires: now.Add(30 * time.Second)}, false)
	if b, _ := r.Lookup("1003"); b.Contact.Port != 5064 {
		t.Fatalf("Lookup = %v, want the newest binding", b.Contact)
	}
	r.Sweep(now.Add(45 * time.Second))
	if b, ok := r.Lookup("1003"); !ok || b.Contact.Port != 5062 || len(changes) != 1 {
		t.Fatalf("after the desk phone expired: %v %v, changes %+v", b.Contact, ok, changes)
	}
	r.Sweep(now.Add(3 * time.Minute))
	if _, ok := r.Lookup("1003"); ok || len(changes) != 2 || changes[1].Registered || changes[1].Reason != "expired" {
		t.Fatalf("after expiry: changes %+v", changes)
	}
}
