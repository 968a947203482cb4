package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

func runMigrate(ctx context.Context, args []string, out io.Writer) error {
	var wait time.Duration
	if err := flags("migrate", args, migrateFlags(&wait)); err != nil {
		return err
	}
	cfg, master, err := loadConfig(false, out)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	// Opening pings the database; migrations and the instance keys are
	// idempotent, so the whole step is retried.
	var applied []int
	err = retryUntil(ctx, deadline, "database", func() error {
		db, err := models.Open(cfg.DatabaseURL, cfg.DataDir)
		if err != nil {
			return err
		}
		if applied, err = models.Migrate(ctx, db); err == nil {
			// The key store creates the instance keys on first use.
			_, err = models.NewKeyStore(ctx, db, master)
		}
		if err != nil {
			if sqlDB, e := db.DB(); e == nil {
				_ = sqlDB.Close() // the attempt failed; the next one opens anew
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		_, _ = fmt.Fprintf(out, "database schema is up to date (version %d)\n", models.LatestMigration())
	} else {
		_, _ = fmt.Fprintf(out, "applied migrations %v; schema at version %d\n", applied, models.LatestMigration())
	}
	if cfg.TemporalAddress == "" {
		_, _ = fmt.Fprintln(out, "TEMPORAL_ADDRESS is not set: search attributes not registered")
		return nil
	}
	// A Temporal that answers may still lack its namespace (created by a
	// job of its own): registering is retried as a whole.
	err = retryUntil(ctx, deadline, "temporal", func() error {
		c, err := dialTemporal(ctx, cfg, master)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := workflows.RegisterSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
			return fmt.Errorf("register search attributes: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "search attributes registered on namespace %s\n", cfg.TemporalNamespace)
	return nil
}

// retryUntil runs step until it succeeds, waiting 250 ms after the first
// failure and doubling up to 5 s, and gives up with the last error once
// the next attempt would start after deadline (or ctx ends).
func retryUntil(ctx context.Context, deadline time.Time, what string, step func() error) error {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil {
			return nil
		}
		if time.Now().Add(backoff).After(deadline) {
			if attempt > 1 {
				return fmt.Errorf("%s not ready after %d attempts: %w", what, attempt, err)
			}
			return err
		}
		slog.Info("waiting for a dependency", "dependency", what, "attempt", attempt, "retry_in", backoff.String(), "err", oneLine(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func runInventory(_ context.Context, args []string, out io.Writer) error {
	var asJSON bool
	if err := flags("inventory", args, jsonFlag(&asJSON)); err != nil {
		return err
	}
	if problems := models.InventoryProblems(); len(problems) > 0 {
		return fmt.Errorf("the data inventory is incomplete: %s.%s: %s", problems[0].Model, problems[0].Field, problems[0].Reason)
	}
	rows := models.RecordOfProcessing()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"controller": "Convot.io (customer data); processor for end-user data", "records": rows})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SUBJECT\tCATEGORY\tPURPOSES\tLEGAL BASIS\tRETENTION\tSTORED\tFORM")
	for _, r := range rows {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Subject, r.Category, strings.Join(r.Purposes, ","),
			strings.Join(r.LegalBases, ","), r.Retention, r.Stored, r.Form)
	}
	return tw.Flush()
}

func runKeys(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("say `convot keys generate` or `convot keys rotate`")
	}
	switch args[0] {
	case "generate":
		version := uint64(1)
		if err := flags("keys generate", args[1:], func(fs *flag.FlagSet) { fs.Uint64Var(&version, "version", 1, "key version") }); err != nil {
			return err
		}
		_, err := fmt.Fprintln(out, crypto.GenerateMasterKey(uint32(version)))
		return err
	case "rotate":
		a, err := openCommand(ctx, "keys rotate", args[1:], false, out)
		if err != nil {
			return err
		}
		defer a.close()
		n, err := a.keys.Rewrap(ctx)
		if err != nil {
			return err
		}
		// Auditors see each rotation (the auditor's key rotations page).
		if err := staffAudit(ctx, a.store, nil, "keys.rotated", fmt.Sprintf("master:v%d", a.master.Current()),
			fmt.Sprintf("%d keys re-wrapped", n), time.Now().UTC()); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "re-wrapped %d keys under master key v%d; older versions can now be removed from CONVOT_MASTER_KEY\n", n, a.master.Current())
		return nil
	}
	return fmt.Errorf("unknown keys command %q: say generate or rotate", args[0])
}

// migrateFlags are migrate's flags (also listed by `convot migrate --help`).
func migrateFlags(wait *time.Duration) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.DurationVar(wait, "wait", 0, "keep retrying, with backoff, while PostgreSQL or Temporal is not ready yet, up to this long (e.g. 3m on a cold start); 0 fails at the first error")
	}
}

// jsonFlag is the -json flag of inventory.
func jsonFlag(asJSON *bool) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) { fs.BoolVar(asJSON, "json", false, "print JSON") }
}
