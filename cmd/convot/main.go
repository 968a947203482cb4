// Command convot is Convot in one binary: the dashboard and APIs, the
// Temporal workers, migrations, and the tools auditors and operators use.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones on machines without a zoneinfo database

	"github.com/convot/convot/internal/config"
)

type command struct {
	name    string
	summary string
	usage   string
	// run writes its output to stdout, which main gives as a stickyWriter:
	// commands write lines with `_, _ = fmt.Fprintf(stdout, ...)`, and main
	// fails the command with the first write that failed.
	run func(ctx context.Context, args []string, stdout io.Writer) error
}

// stickyWriter keeps the first error of its writes (a full disk, a closed
// file) and fails every later write with it, so that whoever gave it out
// can check once that all the output was written.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

var commands []command

func init() {
	commands = []command{
		{"dev", "everything on one machine: SQLite, a Temporal dev server, worker and HTTP server", "convot dev", runDev},
		{"serve", "the HTTP server (production): database, Redis and Temporal from the environment", "convot serve", runServe},
		{"worker", "the Temporal worker (production)", "convot worker", runWorker},
		{"migrate", "apply schema migrations and register Temporal search attributes (idempotent)", "convot migrate [-wait 3m]", runMigrate},
		{"healthcheck", "exit 0 when this host's serve or worker answers /healthz (for container healthchecks: the image has no curl)", "convot healthcheck [-path /healthz] [-timeout 3s]", runHealthcheck},
		{"inventory", "print the record of processing derived from the data inventory", "convot inventory [-json]", runInventory},
		{"keys", "key management: `convot keys rotate` re-wraps every data key under the newest master key", "convot keys generate [-version N] | convot keys rotate", runKeys},
		{"policy", "the egress policies: `test` runs the Rego tests, `eval` prints one decision for auditors; the privacy policy's versions: `publish`, `versions`", "convot policy test | convot policy eval --input flow.json | convot policy publish --file policy.txt --effective YYYY-MM-DD [--material --summary TEXT] | convot policy versions", runPolicy},
		{"backup", "encrypted backups: `list` them, `restore` one into an empty database", "convot backup list | convot backup restore <id>", runBackup},
		{"search", "the encrypted search index: `reindex` rebuilds it for rows written before it existed (after an upgrade or a restore)", "convot search reindex [-org ID]", runSearch},
		{"billing", "Stripe events that named no known organization, kept for review", "convot billing unmatched", runBilling},
		{"support", "Convot's side of customers' support tickets; replies and closures name the staff member acting (--staff)", "convot support list | show <id> | reply <id> --staff EMAIL --message TEXT | close <id> --staff EMAIL", runSupport},
		{"security", "vulnerability reports (mail to the security address); triage, fixed and close name the staff member acting (--staff)", "convot security list | show <id> | triage <id> --severity S --staff EMAIL | fixed <id> --staff EMAIL | close <id> --outcome O --staff EMAIL", runSecurity},
		{"staff", "Convot's own staff: the accounts that may use the staff console (with two-factor authentication)", "convot staff list | add <email> | remove <email>", runStaff},
		{"bench", "load tests: `messages` times widget messages until they reach an operator's socket on another web node; `sockets` holds thousands of visitor and operator sockets on one node and reports memory per socket and fan-out latency; `ai` measures the local AI provider on the labelled data in assist/testdata", "convot bench messages [-messages N] [-rate N] [-visitors N] [-workers N] [-nodes N] [-lifecycles=false] [-pgbench 16,64] [-pgbench-duration 5s] | convot bench sockets [-visitors N] [-operators N] [-orgs N] [-messages N] [-rate N] [-hub local|redis] [-post widget|hub] | convot bench ai [-data DIR]", runBench},
		{"audit", "for auditors: `promises` prints the promise ledger with each promise's state; `record-tests` records from `go test -json` output when each test last passed", "convot audit promises [-json] | go test -json ./... | convot audit record-tests [-revision REV]", runAudit},
	}
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))
	stdout := &stickyWriter{w: os.Stdout}
	if len(os.Args) < 2 || isHelp(os.Args[1]) {
		usage(stdout)
		exitIfUnwritten(stdout, "convot")
		return
	}
	name, args := os.Args[1], os.Args[2:]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		if len(args) > 0 && isHelp(args[0]) {
			commandUsage(stdout, c)
			exitIfUnwritten(stdout, "convot "+name)
			return
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := c.run(ctx, args, stdout)
		stop()
		if errors.Is(err, errHelpShown) {
			err = nil
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(os.Stderr, "convot %s: %v\n", name, oneLine(err))
			os.Exit(1)
		}
		exitIfUnwritten(stdout, "convot "+name)
		return
	}
	fmt.Fprintf(os.Stderr, "convot: unknown command %q; run `convot --help`\n", name)
	os.Exit(2)
}

// exitIfUnwritten ends the process with status 1 when some of the output
// could not be written: a command whose output is lost has not succeeded.
func exitIfUnwritten(stdout *stickyWriter, prefix string) {
	if stdout.err != nil {
		fmt.Fprintf(os.Stderr, "%s: write standard output: %v\n", prefix, stdout.err)
		os.Exit(1)
	}
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "help" || a == "-help" }

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func logLevel() slog.Level {
	switch os.Getenv("CONVOT_LOG_LEVEL") {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// usage prints the help. Its writes, like a command's, are checked by
// main through the stickyWriter it passes.
func usage(w io.Writer) {
	_, _ = fmt.Fprintln(w, "Convot: customer conversations whose privacy policy is enforced by code.")
	_, _ = fmt.Fprintln(w, "\nUsage: convot <command> [arguments]\n\nCommands:")
	for _, c := range commands {
		_, _ = fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	_, _ = fmt.Fprintln(w, "\nSettings (environment variables):")
	printSettings(w, "")
	_, _ = fmt.Fprintln(w, "\nRun `convot <command> --help` for one command's usage.")
}

// commandFlags are the flags of the commands that take flags themselves
// (the others take a subcommand, whose --help lists its own).
var commandFlags = map[string]func(*flag.FlagSet){
	"dev":         devFlags(new(string)),
	"migrate":     migrateFlags(new(time.Duration)),
	"healthcheck": healthcheckFlags(new(string), new(time.Duration)),
	"inventory":   jsonFlag(new(bool)),
}

// commandUsage is one command's help: its usage, its flags, and only the
// settings it reads.
func commandUsage(w io.Writer, c command) {
	_, _ = fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.usage, c.summary)
	if define, ok := commandFlags[c.name]; ok {
		printFlags(w, c.name, define)
	} else if strings.Contains(c.usage, " | ") {
		_, _ = fmt.Fprintf(w, "\nRun `convot %s <subcommand> --help` for a subcommand's flags.\n", c.name)
	}
	_, _ = fmt.Fprintln(w, "\nSettings (environment variables):")
	printSettings(w, c.name)
}

// printFlags lists the flags define defines, with their defaults.
func printFlags(w io.Writer, name string, define func(*flag.FlagSet)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	define(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	_, _ = fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// errHelpShown ends a command whose flags' help was asked for and printed.
var errHelpShown = errors.New("help shown")

func printSettings(w io.Writer, cmd string) {
	settings := config.Settings
	for _, s := range settings {
		if cmd != "" && len(s.Commands) > 0 && !contains(s.Commands, cmd) {
			continue
		}
		def := ""
		if s.Default != "" {
			def = " (default " + s.Default + ")"
		}
		_, _ = fmt.Fprintf(w, "  %-24s %s%s\n", s.Name, s.Usage, def)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// flags parses a subcommand's flags, answering -h itself.
func flags(name string, args []string, define func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		_, _ = fmt.Fprintf(os.Stdout, "Usage: convot %s [flags]\n", name)
		if define != nil {
			printFlags(os.Stdout, name, define)
		}
		return errHelpShown
	} else if err != nil {
		return fmt.Errorf("%w (see `convot %s --help`)", err, name)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see `convot %s --help`)", fs.Arg(0), name)
	}
	return nil
}
