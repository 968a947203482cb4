package policies

import "strings"

// RedactedValue replaces the value of a redacted field.
const RedactedValue = "[redacted]"

// Field is one value of a payload, tagged with its data category (a
// fideslang name from the data inventory, e.g. user.contact.email).
type Field struct {
	Category string
	Value    any
}

// Treatment is what a decision does to a field of a category.
type Treatment int

const (
	// Withhold: the field does not leave (denied flow, undeclared or dropped
	// category).
	Withhold Treatment = iota
	// Send: the field leaves as it is.
	Send
	// Redact: the field leaves with its value replaced by RedactedValue.
	Redact
)

// Treatment tells what happens to a field of category c under d. A field
// leaves only if d allows the flow and c is one of the declared categories
// (or a child of one); it is withheld if c overlaps a dropped category and
// redacted if it overlaps a redacted one. An empty category is withheld.
func (d Decision) Treatment(c string) Treatment {
	if !d.Allow || c == "" || !coveredByAny(d.Categories, c) {
		return Withhold
	}
	if overlapsAny(d.Drop, c) {
		return Withhold
	}
	if overlapsAny(d.Redact, c) {
		return Redact
	}
	return Send
}

// Apply returns the fields that may leave under d: withheld fields removed,
// redacted ones with their value replaced by RedactedValue. fields is not
// changed. A denied decision returns an empty map. Subprocessor clients build
// their payload from the result only.
func Apply(d Decision, fields map[string]Field) map[string]Field {
	out := make(map[string]Field, len(fields))
	if !d.Allow {
		return out
	}
	for name, f := range fields {
		switch d.Treatment(f.Category) {
		case Send:
			out[name] = f
		case Redact:
			out[name] = Field{Category: f.Category, Value: RedactedValue}
		}
	}
	return out
}

// covers reports whether category c is a or a child of a (as in the policy).
func covers(a, c string) bool {
	return a == c || (len(c) > len(a) && c[len(a)] == '.' && strings.HasPrefix(c, a))
}

func coveredByAny(list []string, c string) bool {
	for _, a := range list {
		if covers(a, c) {
			return true
		}
	}
	return false
}

func overlapsAny(list []string, c string) bool {
	for _, a := range list {
		if covers(a, c) || covers(c, a) {
			return true
		}
	}
	return false
}
