package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/convot/convot/assist"
)

// benchAI prints the local AI provider's quality and latency on the
// labelled data the project ships (assist/testdata): language detection
// accuracy, routing accuracy and search recall@5.
func benchAI(args []string, out io.Writer) error {
	dir := "assist/testdata"
	if err := flags("bench", args, func(fs *flag.FlagSet) {
		fs.StringVar(&dir, "data", dir, "directory of languages.tsv, routing.tsv and search.tsv")
	}); err != nil {
		return err
	}
	q, err := assist.EvaluateLocal(dir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(out, q.String())
	return err
}
