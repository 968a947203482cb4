package models

// The rights of §9 are answered by the subject engine (store/subject*.go,
// dsr/engine.go), which derives a subject's rows from the data inventory.
// What a model declares to it lives here with the schema: who a data
// subject is, and the two interfaces through which a model says more than
// its struct tags do.

// Subject is one data subject as erasure, export and the scanner see them.
type Subject struct {
	Kind           string   // SubjectEndUser or SubjectCustomer
	OrganizationID uint64   // the controller's organization (End User), the account's (Customer)
	IDs            []uint64 // the contacts (several when they share an email) or the account
	KeyIDs         []uint64 // their data keys
	EmailIndexes   []string // the blind indexes of their email addresses
	// Owner: the account owns its organization and is its billing contact,
	// whose name and email Stripe holds.
	Owner bool
	// KeepKeys are keys whose rows are not the subject's data however they
	// match (the request's own, while it is being answered).
	KeepKeys []uint64
}

// Found reports whether anything is held about the subject.
func (s *Subject) Found() bool { return s != nil && len(s.IDs) > 0 }

// InIDs are the subject's IDs for an SQL IN list: never empty, since
// "IN ()" is not SQL, and ID 0 names no row.
func (s *Subject) InIDs() []uint64 {
	if len(s.IDs) == 0 {
		return []uint64{0}
	}
	return s.IDs
}

// SubjectLocator is implemented by a model whose rows belong to a subject
// in a way the generic rule cannot see; the condition is SQL over its own
// columns.
type SubjectLocator interface {
	SubjectCondition(s *Subject) (where string, args []any)
}

// ErasureAnonymizer is implemented by a model whose rows outlive an
// erasure as records without personal data: every classified column is
// cleared and the row stays.
type ErasureAnonymizer interface {
	AnonymizeOnErasure()
}

// BlobColumn is the column a blob of a table is sealed for: an attachment's
// bytes are sealed as "attachments.content".
func BlobColumn(table string) string { return table + ".content" }
