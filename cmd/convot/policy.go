package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/convot/convot/policies"
)

func runPolicy(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("say `convot policy test` or `convot policy eval --input flow.json`")
	}
	switch args[0] {
	case "test":
		if err := flags("policy test", args[1:], nil); err != nil {
			return err
		}
		results, err := policies.RunTests(ctx)
		if err != nil {
			return err
		}
		failed := 0
		for _, r := range results {
			_, _ = fmt.Fprintln(out, r.String())
			if !r.Pass && !r.Skip {
				failed++
			}
		}
		_, _ = fmt.Fprintf(out, "policy revision %s\n%d passed, %d failed\n", policies.Revision(), len(results)-failed, failed)
		if failed > 0 || len(results) == 0 {
			return fmt.Errorf("%d of %d policy tests failed", failed, len(results))
		}
		return nil
	case "publish":
		return runPolicyPublish(ctx, args[1:], out)
	case "versions":
		return runPolicyVersions(ctx, args[1:], out)
	case "eval":
		var input string
		if err := flags("policy eval", args[1:], func(fs *flag.FlagSet) {
			fs.StringVar(&input, "input", "", "JSON file with the flow (- for standard input)")
		}); err != nil {
			return err
		}
		if input == "" {
			return errors.New("--input is required: a JSON file describing the flow")
		}
		var r io.Reader = os.Stdin
		if input != "-" {
			f, err := os.Open(input)
			if err != nil {
				return err
			}
			defer func() { _ = f.Close() }() // read only: nothing to lose
			r = f
		}
		var flow policies.Flow
		dec := json.NewDecoder(io.LimitReader(r, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&flow); err != nil {
			return fmt.Errorf("--input: not a flow: %w", err)
		}
		gate, err := policies.NewGate(ctx, policies.NewMemoryLog())
		if err != nil {
			return err
		}
		d, err := gate.Authorize(ctx, flow)
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(d); encErr != nil {
			return encErr
		}
		return err
	}
	return fmt.Errorf("unknown policy command %q: say test, eval, publish or versions", args[0])
}

func runAudit(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "record-tests" {
		return runRecordTests(ctx, args[1:], os.Stdin, out)
	}
	if len(args) == 0 || args[0] != "promises" {
		return errors.New("say `convot audit promises` or `go test -json ./... | convot audit record-tests`")
	}
	var asJSON bool
	if err := flags("audit promises", args[1:], func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") }); err != nil {
		return err
	}
	l, err := policies.LoadLedger()
	if err != nil {
		return err
	}
	if asJSON {
		_, err := out.Write(policies.LedgerDocument())
		return err
	}
	counts := map[string]int{}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SECTION\tSTATE\tPROMISE\tPROVEN BY")
	for _, p := range l.Promises {
		counts[p.State]++
		proof := strings.Join(p.Tests, ", ")
		if proof == "" {
			proof = p.Note
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Section, p.State, p.Promise, proof)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "\n%d kept, %d partial, %d not yet kept\n", counts["kept"], counts["partial"], counts["not_yet"])
	return nil
}

// runRecordTests records, from `go test -json` output on in, when each
// test last passed, for the promise ledger (the auditors' page shows it).
func runRecordTests(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	var revision string
	err := flags("audit record-tests", args, func(fs *flag.FlagSet) {
		fs.StringVar(&revision, "revision", "", "the source revision the tests ran on (e.g. the git commit)")
	})
	if err != nil {
		return err
	}
	a, err := openApp(ctx, false, out)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := recordTestResults(ctx, a.store, in, revision)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "recorded %d test results\n", n)
	return err
}
