package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/store"
)

// Failures that retrying cannot mend are non-retryable: the workflow sees
// them at once instead of after every retry.

// errNoMail is an activity that mails, run without a mail sender.
func errNoMail() error {
	return temporal.NewNonRetryableApplicationError("no mail sender configured", "NoMail", nil)
}

// errNoKeys is an activity that destroys data keys, run without a key
// store.
func errNoKeys() error {
	return temporal.NewNonRetryableApplicationError("no key store configured", "NoKeys", nil)
}

// found passes on a lookup of the what with id, except that a missing row
// is non-retryable: it will not appear.
func found[T any, ID uint64 | int](row *T, err error, what string, id ID) (*T, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %d not found", what, id), "NotFound", nil)
	}
	return row, err
}
