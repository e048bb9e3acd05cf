package store

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that every layer can react to it without
// knowing where it came from; the HTTP layer maps each kind to one status.
type Kind uint8

const (
	// Internal is a failure the caller cannot fix: a bug or a broken store.
	Internal Kind = iota
	// Invalid means the input breaks a rule of the domain.
	Invalid
	// NotFound means the addressed resource does not exist.
	NotFound
	// Exist means a resource with the same identity already exists.
	Exist
	// Conflict means the resource's state does not allow the change.
	Conflict
	// PreconditionFailed means the resource's revision is not one the
	// caller expected (an If-Match that does not match).
	PreconditionFailed
	// Unavailable means the store cannot be reached for now, or gave up
	// because the call's context ended (its client went away, or a deadline
	// passed); retrying may help.
	Unavailable
	// Full means the resource holds as much as it may: a write that would
	// add to it is refused (Graph's 507 quotaLimitReached).
	Full
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Exist:
		return "exist"
	case Conflict:
		return "conflict"
	case PreconditionFailed:
		return "precondition failed"
	case Unavailable:
		return "unavailable"
	case Full:
		return "full"
	default:
		return "internal"
	}
}

// Error is an error of a known Kind, with a message fit to show a client.
type Error struct {
	Kind    Kind
	Message string
	Err     error // the underlying cause, if any; never shown to a client
}

// E returns an *Error of kind k whose message is formatted from format and args.
func E(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
