package store

import "errors"

var (
	// ErrNotFound: no call with that ID.
	ErrNotFound = errors.New("call not found")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrSchemaTooNew: the database was written by a newer hotline whose
	// migrations this binary does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrInvalidCDR: the CDR lacks a field the operation needs.
	ErrInvalidCDR = errors.New("invalid cdr")
)
