package obligations

import (
	"testing"
	"time"
)

func TestRetentionCutoffs(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	want := map[string]time.Time{
		RetentionSecurityLog: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC), // twelve months
		RetentionSupport:     time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC), // two years
		RetentionBilling:     time.Date(2019, 3, 31, 12, 0, 0, 0, time.UTC), // seven years
		RetentionAccessLog:   time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC), // twelve months
	}
	for _, class := range SweptClasses {
		got, err := RetentionCutoff(class, now.In(time.FixedZone("x", 5*3600)))
		if err != nil || !got.Equal(want[class]) {
			t.Errorf("%s: %v %v, want %v", class, got, err, want[class])
		}
	}
	if _, err := RetentionCutoff("account", now); err == nil {
		t.Error("an unswept class has a cutoff")
	}
}

// The answer is due one month after receipt, never after 30 days (policy
// §9): in a 31-day month the 30 days come first.
func TestDsrDueDate(t *testing.T) {
	for _, c := range []struct{ received, due time.Time }{
		{time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}, // February: the month is 28 days
		{time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 4, 9, 9, 0, 0, 0, time.UTC)},  // March: 30 days come first
		{time.Date(2026, 4, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)}, // April: both are 30 days
	} {
		if got := DsrDueDate(c.received); !got.Equal(c.due) {
			t.Errorf("received %v: due %v, want %v", c.received, got, c.due)
		}
	}
}

func TestDsrVocabulary(t *testing.T) {
	if len(DsrTypes) != 7 || !ValidDsrType(DsrErasure) || ValidDsrType("delete") {
		t.Fatal("the seven rights of §9 are the request types")
	}
	for _, s := range DsrStatuses {
		if DsrClosed(s) != (s == DsrCompleted || s == DsrRejected || s == DsrExpired) {
			t.Errorf("status %s closed = %v", s, DsrClosed(s))
		}
	}
}
