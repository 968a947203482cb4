// Package workflows holds Convot's Temporal workflows: one file per process
// of DESIGN.md, deterministic code only (no database, no I/O). Every side
// effect is an activity, called by name; the activities live in package
// activities.
package workflows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Custom search attributes let a privacy officer find workflows in the
// Temporal UI, e.g. DsrStatus="awaiting_verification" AND DsrDeadline < "...".
//
// Search attributes, like workflow IDs and memos, are stored and indexed by
// Temporal in clear text: the payload codec does not reach them (DESIGN.md
// invariant 3). So they only ever hold identifiers, kinds, statuses and
// dates: an organization ID, a request type, a status, a deadline. Never an
// email, a name, a message or anything else about a person.
var (
	// ConvotOrgId is the organization's ID as a decimal string.
	ConvotOrgId = temporal.NewSearchAttributeKeyKeyword("ConvotOrgId")
	// DsrType is the kind of a data-subject request (access, erasure, ...).
	DsrType = temporal.NewSearchAttributeKeyKeyword("DsrType")
	// DsrStatus is the state of a data-subject request.
	DsrStatus = temporal.NewSearchAttributeKeyKeyword("DsrStatus")
	// DsrDeadline is when a data-subject request must be answered.
	DsrDeadline = temporal.NewSearchAttributeKeyTime("DsrDeadline")
	// ConversationStatus is open, pending, snoozed or resolved.
	ConversationStatus = temporal.NewSearchAttributeKeyKeyword("ConversationStatus")
	// CancellationDeleteAt is when a cancelled account is deleted for good.
	CancellationDeleteAt = temporal.NewSearchAttributeKeyTime("CancellationDeleteAt")
	// BreachNoticeDue is when the supervisory authority must be notified of
	// a breach (72 hours after awareness).
	BreachNoticeDue = temporal.NewSearchAttributeKeyTime("BreachNoticeDue")
	// BreachStatus is the state of a breach's notification (open, assessed,
	// overdue, authority_notified, closed).
	BreachStatus = temporal.NewSearchAttributeKeyKeyword("BreachStatus")
	// ProcessKind names the kind of a process that has no attributes of
	// its own (vulnerability_report, disclosure): the SQL visibility store
	// offers three Datetime attributes and all are taken, so these
	// processes put their due date in DsrDeadline, the shared due-date
	// attribute, and say what they are here, e.g.
	// ProcessKind="vulnerability_report" AND DsrDeadline < "...".
	ProcessKind = temporal.NewSearchAttributeKeyKeyword("ProcessKind")
	// ProcessStatus is the state of such a process.
	ProcessStatus = temporal.NewSearchAttributeKeyKeyword("ProcessStatus")
	// ShopifyTopic is the topic of a Shopify webhook a workflow carries out
	// (shop/redact, app/uninstalled).
	ShopifyTopic = temporal.NewSearchAttributeKeyKeyword("ShopifyTopic")
)

// SearchAttributes maps every custom search attribute Convot uses to its
// type, for registration on a namespace (convot migrate, convot dev).
var SearchAttributes = map[string]enumspb.IndexedValueType{
	ConvotOrgId.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	DsrType.GetName():              enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	DsrStatus.GetName():            enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	DsrDeadline.GetName():          enumspb.INDEXED_VALUE_TYPE_DATETIME,
	ConversationStatus.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	CancellationDeleteAt.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	BreachNoticeDue.GetName():      enumspb.INDEXED_VALUE_TYPE_DATETIME,
	BreachStatus.GetName():         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	ProcessKind.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	ProcessStatus.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	ShopifyTopic.GetName():         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// RegisterSearchAttributes adds the custom search attributes that the
// namespace lacks. It is idempotent: attributes already registered with the
// right type are left alone, and a concurrent registration ("already
// exists") is not a failure. An attribute registered under another type is
// an error, since queries on it would silently mismatch.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	ops := c.OperatorService()
	existing, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	var conflicts []string
	for name, want := range SearchAttributes {
		got, ok := existing.GetCustomAttributes()[name]
		if !ok {
			got, ok = existing.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			conflicts = append(conflicts, fmt.Sprintf("%s is %s, want %s", name, got, want))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return fmt.Errorf("search attributes of namespace %s have the wrong type: %s", namespace, strings.Join(conflicts, "; "))
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil && !alreadyExists(err) {
		return fmt.Errorf("add search attributes to namespace %s: %w", namespace, err)
	}
	return nil
}

// alreadyExists reports whether err says an attribute is registered already,
// as servers do when another process registered it meanwhile (some as
// AlreadyExists, older ones as InvalidArgument).
func alreadyExists(err error) bool {
	var exists *serviceerror.AlreadyExists
	if errors.As(err, &exists) {
		return true
	}
	var invalid *serviceerror.InvalidArgument
	return errors.As(err, &invalid) && strings.Contains(invalid.Error(), "already exists")
}
