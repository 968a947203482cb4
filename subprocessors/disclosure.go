package subprocessors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/policies"
)

// Disclosures sends what a disclosure request of the register (policy §6)
// discloses to the recipient it records: the egress gate decides first
// (recipient disclosure_recipient: an approved request, its recipient and
// legal basis recorded, only the categories it asked for), then only the
// fields the decision lets through are mailed.
type Disclosures struct {
	Gate Gate
	Mail mail.Sender
	From string
}

// DisclosureResult is what was sent: the decision, the number of fields,
// and the SHA-256 of the document mailed.
type DisclosureResult struct {
	Decision policies.Decision
	Fields   int
	Digest   string
}

// Disclose asks the gate about flow and, when it allows, mails the fields
// it lets through, as JSON, to the recipient's address. A denial is a
// result (Decision.Allow false), not an error: nothing was sent.
func (d *Disclosures) Disclose(ctx context.Context, flow policies.Flow, fields map[string]policies.Field, to, subject, intro string) (DisclosureResult, error) {
	flow.Subprocessor = "disclosure_recipient"
	dec, err := authorize(ctx, d.Gate, flow)
	if errors.Is(err, ErrDenied) && dec.Reason != "" {
		return DisclosureResult{Decision: dec}, nil
	}
	if err != nil {
		return DisclosureResult{}, err
	}
	sent := policies.Apply(dec, fields)
	names := make([]string, 0, len(sent))
	for n := range sent {
		names = append(names, n)
	}
	sort.Strings(names)
	doc := make([]map[string]string, 0, len(names))
	for _, n := range names {
		doc = append(doc, map[string]string{"field": n, "category": sent[n].Category, "value": fmt.Sprint(sent[n].Value)})
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return DisclosureResult{}, err
	}
	sum := sha256.Sum256(body)
	if d.Mail == nil {
		return DisclosureResult{}, errors.New("disclosure: no mail sender configured")
	}
	err = d.Mail.Send(ctx, mail.Message{From: d.From, To: to, Subject: subject, Text: intro + "\n\n" + string(body) + "\n",
		Stream: mail.Transactional, Tag: "disclosure", Org: flow.Organization, Recipient: flow.Subject})
	if err != nil {
		return DisclosureResult{}, fmt.Errorf("disclosure: mail the recipient: %w", err)
	}
	return DisclosureResult{Decision: dec, Fields: len(sent), Digest: hex.EncodeToString(sum[:])}, nil
}
