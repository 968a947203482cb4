package handlers

import convotmail "github.com/convot/convot/internal/mail"

// validEmail is the address as Convot keeps it (convotmail.CanonicalAddress),
// for the inbound mail webhook; the dashboard has its own copy.
func validEmail(s string) (string, error) { return convotmail.CanonicalAddress(s) }
