package obligations

import (
	"fmt"
	"time"
)

// Swept retention classes.
const (
	RetentionSecurityLog = "security_log" // IP addresses, access and usage logs: 12 months
	RetentionSupport     = "support"      // support correspondence: 2 years after the ticket closed
	RetentionBilling     = "billing"      // invoices and payment records: 7 years
	RetentionAccessLog   = "access_log"   // operators' access to personal data: 12 months
)

// SweptClasses lists the classes the retention schedules sweep.
var SweptClasses = []string{RetentionSecurityLog, RetentionSupport, RetentionBilling, RetentionAccessLog}

// RetentionCutoff is the clock value before which data of a class has
// expired at now: twelve calendar months, two years, seven years.
func RetentionCutoff(class string, now time.Time) (time.Time, error) {
	now = now.UTC()
	switch class {
	case RetentionSecurityLog, RetentionAccessLog:
		return now.AddDate(0, -12, 0), nil
	case RetentionSupport:
		return now.AddDate(-2, 0, 0), nil
	case RetentionBilling:
		return now.AddDate(-7, 0, 0), nil
	}
	return time.Time{}, fmt.Errorf("retention class %q is not swept", class)
}

// BackupRetention is how long a backup is kept (policy §8: ninety days).
const BackupRetention = 90 * 24 * time.Hour
