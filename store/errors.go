package store

import "errors"

var (
	// ErrNotFound: no row with that key (a call, a callback).
	ErrNotFound = errors.New("not found")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrSchemaTooNew: the database was written by a newer hotline whose
	// migrations this binary does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrInvalidCDR: the CDR lacks a field the operation needs.
	ErrInvalidCDR = errors.New("invalid cdr")
	// ErrInvalid: an agent event, routing decision or callback lacks a
	// field the operation needs, or has a value the store cannot keep.
	ErrInvalid = errors.New("invalid record")
)
