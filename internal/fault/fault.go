// Package fault defines the one error type of Atrium: a Kind that classifies
// the failure, the operation that failed, a message that is safe to show to
// callers, optional field violations, and the wrapped internal cause.
//
// Domain code classifies an error once, with a Kind; transports map the Kind
// to a status in exactly one table. The public message never contains a
// secret or personal data; the cause may, and is only ever logged.
package fault

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error. The list is append-only: transports and clients
// rely on the values.
type Kind uint8

// The kinds of error. Each maps to one gRPC code and one HTTP status.
const (
	Internal           Kind = iota // a bug or an unexpected failure; details are never shown
	Invalid                        // the input is malformed or violates a rule (400)
	NotFound                       // the named thing does not exist (404)
	AlreadyExists                  // a unique thing is taken (409)
	Aborted                        // a compare-and-swap lost; re-read and retry (409)
	FailedPrecondition             // the state does not allow the operation (400)
	Unauthenticated                // no or invalid credentials (401)
	PermissionDenied               // the caller may not do this (403)
	ResourceExhausted              // rate limited, shed, or too large (429/413)
	Unavailable                    // a dependency is down; retry later (503)
	DeadlineExceeded               // the request ran out of time (504)
	Canceled                       // the caller went away (499)
	TooLarge                       // the request body or a field is over its size limit (413)
	UnsupportedMedia               // the request body is not in a format the method reads (415)
)

var kindNames = [...]string{
	Internal:           "internal",
	Invalid:            "invalid_argument",
	NotFound:           "not_found",
	AlreadyExists:      "already_exists",
	Aborted:            "aborted",
	FailedPrecondition: "failed_precondition",
	Unauthenticated:    "unauthenticated",
	PermissionDenied:   "permission_denied",
	ResourceExhausted:  "resource_exhausted",
	Unavailable:        "unavailable",
	DeadlineExceeded:   "deadline_exceeded",
	Canceled:           "canceled",
	TooLarge:           "resource_exhausted",
	UnsupportedMedia:   "invalid_argument",
}

// String returns the machine-readable code of k, as clients see it
// ("invalid_argument", "not_found", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "internal"
}

// Violation names one field of the input that is wrong and why. Field is a
// path such as "fragments.profile.name" or "kinds.org.lifecycle.initial".
type Violation struct {
	Field  string
	Reason string
}

// Error is an error classified by Kind. Msg is safe to show to callers; Err is
// the internal cause and is never shown.
type Error struct {
	Kind       Kind
	Op         string // the failing operation, such as "account.Create"
	Msg        string // public message; empty means the Kind's generic text
	Violations []Violation
	Err        error // internal cause, may be nil
}

// Error renders the operation, the public message and the cause, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Public())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Public returns the message that may be shown to a caller.
func (e *Error) Public() string {
	if e.Msg != "" {
		return e.Msg
	}
	switch e.Kind {
	case Invalid:
		return "invalid request"
	case NotFound:
		return "not found"
	case AlreadyExists:
		return "already exists"
	case Aborted:
		return "conflict, retry"
	case FailedPrecondition:
		return "precondition failed"
	case Unauthenticated:
		return "unauthenticated"
	case PermissionDenied:
		return "permission denied"
	case ResourceExhausted:
		return "too many requests"
	case TooLarge:
		return "request too large"
	case UnsupportedMedia:
		return "unsupported media type"
	case Unavailable:
		return "service unavailable"
	case DeadlineExceeded:
		return "deadline exceeded"
	case Canceled:
		return "request canceled"
	}
	return "internal error"
}

// E builds an Error of kind k for operation op with a public message
// formatted from format and args. Never format a secret or personal data
// into it.
func E(op string, k Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap classifies err as kind k for operation op, keeping err as the hidden
// cause. If err is already an *Error, its kind and message are kept and only
// the operation is added; a context's end is Canceled or DeadlineExceeded
// whatever k says, since it is the caller's doing, not a fault.
func Wrap(op string, k Kind, err error) error {
	if err == nil {
		return nil
	}
	if fe, ok := errors.AsType[*Error](err); ok {
		return &Error{Op: op, Kind: fe.Kind, Msg: fe.Msg, Violations: fe.Violations, Err: err}
	}
	switch {
	case errors.Is(err, context.Canceled):
		k = Canceled
	case errors.Is(err, context.DeadlineExceeded):
		k = DeadlineExceeded
	}
	return &Error{Op: op, Kind: k, Err: err}
}

// Invalidf returns an Invalid error with the given violations.
func Invalidf(op string, vs []Violation, format string, args ...any) *Error {
	return &Error{Op: op, Kind: Invalid, Msg: fmt.Sprintf(format, args...), Violations: vs}
}

// KindOf returns the Kind of err: the Kind of the outermost *Error in its
// chain, or Internal when there is none. KindOf(nil) is Internal too; test
// for nil first.
func KindOf(err error) Kind {
	if fe, ok := errors.AsType[*Error](err); ok {
		return fe.Kind
	}
	return Internal
}

// Is reports whether err is classified as kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// PublicOf returns the message of err that may be shown to callers, and its
// violations. Errors that are not *Error, and Internal errors, show only a
// generic text.
func PublicOf(err error) (string, []Violation) {
	fe, ok := errors.AsType[*Error](err)
	if !ok || fe.Kind == Internal {
		return "internal error", nil
	}
	return fe.Public(), fe.Violations
}
