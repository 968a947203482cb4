package policies

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed promises.json
var promisesJSON []byte

// Promise is one row of the promise ledger: a promise of the published
// policy, the mechanism that keeps it and the tests that prove it.
type Promise struct {
	Section   string   `json:"section"`
	Promise   string   `json:"promise"`
	State     string   `json:"state"` // kept, partial, not_yet
	Mechanism string   `json:"mechanism,omitempty"`
	Code      []string `json:"code,omitempty"`
	// Tests are "package/dir.TestName" for Go tests and "rego:test_name"
	// for the policy's own tests.
	Tests []string `json:"tests,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// Ledger is the promise ledger.
type Ledger struct {
	Policy   string            `json:"policy"`
	States   map[string]string `json:"states"`
	Promises []Promise         `json:"promises"`
}

// LoadLedger parses the embedded promise ledger.
func LoadLedger() (*Ledger, error) {
	var l Ledger
	if err := json.Unmarshal(promisesJSON, &l); err != nil {
		return nil, fmt.Errorf("promise ledger: %w", err)
	}
	return &l, nil
}

// LedgerDocument is the ledger as shipped, for download.
func LedgerDocument() []byte { return promisesJSON }
