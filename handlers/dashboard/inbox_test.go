package dashboard

import (
	"testing"
	"time"
)

func TestSnoozePresets(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database")
	}
	now := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC) // a Wednesday, 16:00 in Berlin
	cases := []struct {
		preset, until string
		want          time.Time
	}{
		{"1h", "", now.Add(time.Hour)},
		{"tomorrow", "", time.Date(2026, 3, 5, 9, 0, 0, 0, berlin)},
		{"next_week", "", time.Date(2026, 3, 9, 9, 0, 0, 0, berlin)},
		{"", "2026-03-06T18:30", time.Date(2026, 3, 6, 18, 30, 0, 0, berlin)},
		{"", "2026-03-06T18:30:00Z", time.Date(2026, 3, 6, 18, 30, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := snoozeUntil(now, berlin, c.preset, c.until)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("snooze %q %q = %s, %v; want %s", c.preset, c.until, got, err, c.want)
		}
	}
	// On a Monday, next week is the Monday after.
	monday := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	if got, _ := snoozeUntil(monday, time.UTC, "next_week", ""); !got.Equal(time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("next week from a Monday: %s", got)
	}
	for _, bad := range [][2]string{{"", ""}, {"", "2026-03-04T15:00"}, {"", "2027-06-01T10:00"}, {"", "soon"}, {"someday", ""}} {
		if _, err := snoozeUntil(now, berlin, bad[0], bad[1]); err == nil {
			t.Errorf("snooze %q %q accepted", bad[0], bad[1])
		}
	}
}
