package dashboard

import "testing"

func TestCSVCellsCannotBeFormulas(t *testing.T) {
	got := csvSafe([]string{"=cmd()", "+1", "plain", ""})
	if got[0] != "'=cmd()" || got[1] != "'+1" || got[2] != "plain" || got[3] != "" {
		t.Fatalf("%q", got)
	}
}
