// Package reports computes the inbox reports (issue 20 item 8) from
// stored timestamps only: conversations per day, first response time,
// resolution time and ratings, in total, by operator, by label and per
// week. Nothing new about anyone is recorded to make them.
package reports

import (
	"fmt"
	"sort"
	"time"

	"github.com/convot/convot/store"
)

// Figures is one line of a report.
type Figures struct {
	Key           string // operator name, label name, or week ("2026-W49")
	Conversations int
	Replied       int           // conversations with an operator reply
	FirstResponse time.Duration // average, over Replied
	Resolved      int           // conversations resolved
	Resolution    time.Duration // average, over Resolved
	Ratings       int
	RatingTotal   int
	RatingAverage float64 // over Ratings; 0 when none
	firstTotal    time.Duration
	resolveTotal  time.Duration
}

func (f *Figures) add(c store.ReportConversation) {
	f.Conversations++
	if c.FirstReplyAt != nil && !c.FirstReplyAt.Before(c.CreatedAt) {
		f.Replied++
		f.firstTotal += c.FirstReplyAt.Sub(c.CreatedAt)
	}
	if c.ResolvedAt != nil && !c.ResolvedAt.Before(c.CreatedAt) {
		f.Resolved++
		f.resolveTotal += c.ResolvedAt.Sub(c.CreatedAt)
	}
	if c.Score > 0 {
		f.Ratings++
		f.RatingTotal += c.Score
	}
}

func (f *Figures) finish() {
	if f.Replied > 0 {
		f.FirstResponse = (f.firstTotal / time.Duration(f.Replied)).Round(time.Second)
	}
	if f.Resolved > 0 {
		f.Resolution = (f.resolveTotal / time.Duration(f.Resolved)).Round(time.Second)
	}
	if f.Ratings > 0 {
		f.RatingAverage = float64(f.RatingTotal) / float64(f.Ratings)
	}
}

// Day is the number of conversations started on one day (UTC).
type Day struct {
	Date          string // 2006-01-02
	Conversations int
	Percent       int // of the busiest day, for the bar
}

// Report is the reports page.
type Report struct {
	From, To   time.Time // [From, To)
	Total      Figures
	Days       []Day
	ByOperator []Figures
	ByLabel    []Figures
	ByWeek     []Figures
	Sections   []Section // the three above, titled, for the page
}

// Section is a titled table of figures.
type Section struct {
	Title, ID string
	Rows      []Figures
}

// Build computes the report of convs (started in [from, to)). operator
// and label name an assignee and a label ID ("" when gone).
func Build(convs []store.ReportConversation, from, to time.Time, operator, label func(uint64) string) Report {
	r := Report{From: from, To: to}
	days := map[string]int{}
	ops, labels, weeks := map[string]*Figures{}, map[string]*Figures{}, map[string]*Figures{}
	get := func(m map[string]*Figures, key string) *Figures {
		f := m[key]
		if f == nil {
			f = &Figures{Key: key}
			m[key] = f
		}
		return f
	}
	for _, c := range convs {
		r.Total.add(c)
		days[c.CreatedAt.UTC().Format("2006-01-02")]++
		name := "Unassigned"
		if c.AssigneeID != nil {
			if name = operator(*c.AssigneeID); name == "" {
				name = fmt.Sprintf("Former operator #%d", *c.AssigneeID)
			}
		}
		get(ops, name).add(c)
		if len(c.LabelIDs) == 0 {
			get(labels, "No label").add(c)
		}
		for _, id := range c.LabelIDs {
			if n := label(id); n != "" {
				get(labels, n).add(c)
			}
		}
		y, w := c.CreatedAt.UTC().ISOWeek()
		get(weeks, fmt.Sprintf("%d-W%02d", y, w)).add(c)
	}
	r.Total.finish()
	busiest := 0
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		n := days[d.Format("2006-01-02")]
		busiest = max(busiest, n)
		r.Days = append(r.Days, Day{Date: d.Format("2006-01-02"), Conversations: n})
	}
	for i := range r.Days {
		if busiest > 0 {
			r.Days[i].Percent = r.Days[i].Conversations * 100 / busiest
		}
	}
	r.ByOperator, r.ByLabel, r.ByWeek = sorted(ops), sorted(labels), sorted(weeks)
	r.Sections = []Section{{"By operator", "report-operators", r.ByOperator}, {"By label", "report-labels", r.ByLabel}, {"Per week", "report-weeks", r.ByWeek}}
	return r
}

func sorted(m map[string]*Figures) []Figures {
	out := make([]Figures, 0, len(m))
	for _, f := range m {
		f.finish()
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// FirstResponseText is the average first response time, or "—".
func (f Figures) FirstResponseText() string {
	if f.Replied == 0 {
		return "—"
	}
	return Duration(f.FirstResponse)
}

// ResolutionText is the average resolution time, or "—".
func (f Figures) ResolutionText() string {
	if f.Resolved == 0 {
		return "—"
	}
	return Duration(f.Resolution)
}

// RatingText is the average rating with one decimal, or "—".
func (f Figures) RatingText() string {
	if f.Ratings == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", f.RatingAverage)
}

// Duration formats a duration for the report: "1h 05m", "12m 30s" or "45s".
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d >= time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}
