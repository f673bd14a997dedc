package recorder

import "errors"

var (
	// ErrWriterClosed is returned by Create after Writer.Close.
	ErrWriterClosed = errors.New("recorder: writer closed")
)
