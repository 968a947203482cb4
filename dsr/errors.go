package dsr

import (
	"errors"
	"fmt"
)

// The kinds of Refusal: the transports answer each in their own terms
// (handlers/privacy with an HTTP status).
var (
	// ErrInvalid: what was sent cannot be taken as it is (an unknown type,
	// a missing ground, a value that cannot be corrected, a wrong code).
	ErrInvalid = errors.New("dsr: invalid request")
	// ErrInvalidAddress: the requester's address is not an email address.
	ErrInvalidAddress = errors.New("dsr: invalid address")
	// ErrNotFound: there is no such request.
	ErrNotFound = errors.New("dsr: no such request")
	// ErrAlreadyDone: the request is verified already, or a new code was
	// just sent.
	ErrAlreadyDone = errors.New("dsr: already done")
	// ErrGone: the request expired or closed, or its code expired.
	ErrGone = errors.New("dsr: gone")
	// ErrLimitReached: too many wrong codes, or no more codes to send.
	ErrLimitReached = errors.New("dsr: limit reached")
)

// ErrUnavailable is the workflow service being unreachable: nothing was
// recorded (or the verification was undone); the requester tries again.
var ErrUnavailable = errors.New("privacy requests are unavailable")

// Refusal is a request the requester must change: Message tells them how,
// Kind (one of the errors above, which errors.Is finds) which refusal it is.
type Refusal struct {
	Kind    error
	Message string
}

func (r *Refusal) Error() string { return r.Message }

func (r *Refusal) Unwrap() error { return r.Kind }

func refuse(kind error, format string, args ...any) error {
	return &Refusal{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
