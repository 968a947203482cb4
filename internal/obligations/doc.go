// Package obligations is the vocabulary of Convot's long-running duties,
// shared by the schema (models), the deterministic workflows and the
// transports: data-subject request types and statuses and the rule for
// their deadline, retention classes and their cutoffs, how long backups
// are kept. One definition of each, so a deadline cannot differ between
// the workflow that keeps it and the page that shows it. It imports only
// the standard library: workflows stay light and deterministic.
package obligations
