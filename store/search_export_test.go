package store

// SetTermCountCap lowers the count past which a word is common, so a test
// reaches the common-word path with a few thousand rows; it returns the
// restoring function.
func SetTermCountCap(n int64) func() {
	old := termCountCap
	termCountCap = n
	return func() { termCountCap = old }
}
