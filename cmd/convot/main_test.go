package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/convot/convot/models"
)

// writeFile writes a test's input file, failing the test if it cannot.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Every setting appears in the help of the commands that read it.
func TestHelpListsEverySetting(t *testing.T) {
	var buf bytes.Buffer
	usage(&buf)
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "CONVOT_MASTER_KEY", "CONVOT_BASE_URL", "CONVOT_TLS_CERT", "SENTRY_DSN"} {
		if !strings.Contains(buf.String(), name) {
			t.Errorf("convot --help lacks %s", name)
		}
	}
	for _, c := range commands {
		buf.Reset()
		commandUsage(&buf, c)
		reads := c.name != "inventory" && c.name != "healthcheck" // audit record-tests writes the database
		if strings.Contains(buf.String(), "DATABASE_URL") != reads {
			t.Errorf("convot %s --help: DATABASE_URL listed = %v, want %v", c.name, !reads, reads)
		}
		if !strings.Contains(buf.String(), "CONVOT_LOG_LEVEL") {
			t.Errorf("convot %s --help lacks CONVOT_LOG_LEVEL, read by every command", c.name)
		}
	}
}

// Each command's --help lists its own flags and only the settings it
// reads; a subcommand's --help lists the subcommand's flags.
func TestCommandHelpListsItsFlagsAndOnlyItsSettings(t *testing.T) {
	help := func(name string) string {
		for _, c := range commands {
			if c.name == name {
				var buf bytes.Buffer
				commandUsage(&buf, c)
				return buf.String()
			}
		}
		t.Fatalf("no command %s", name)
		return ""
	}
	for name, c := range map[string]struct{ has, lacks []string }{
		"dev":         {has: []string{"-addr", "TEMPORAL_CLI", "CONVOT_TEMPORAL_UI_PORT", "CONVOT_ADMIN_ADDR", "CONVOT_HTTP_ADDR", "STRIPE_WEBHOOK_SECRET"}},
		"serve":       {has: []string{"CONVOT_HTTP_ADDR", "CONVOT_TLS_CERT", "CONVOT_ADMIN_ADDR", "REDIS_URL", "TEMPORAL_TLS_CERT", "POSTMARK_INBOUND_USER"}, lacks: []string{"TEMPORAL_CLI", "CONVOT_TEMPORAL_PORT"}},
		"worker":      {has: []string{"CONVOT_ADMIN_ADDR", "TEMPORAL_ADDRESS", "POSTMARK_SERVER_TOKEN", "CONVOT_BASE_URL"}, lacks: []string{"CONVOT_HTTP_ADDR", "CONVOT_TLS_CERT", "CONVOT_GEOIP_DB", "STRIPE_WEBHOOK_SECRET", "TEMPORAL_CLI"}},
		"migrate":     {has: []string{"-wait", "DATABASE_URL", "CONVOT_MASTER_KEY", "TEMPORAL_ADDRESS", "TEMPORAL_API_KEY"}, lacks: []string{"REDIS_URL", "STRIPE_SECRET_KEY", "CONVOT_HTTP_ADDR", "CONVOT_ADMIN_ADDR"}},
		"healthcheck": {has: []string{"-path", "-timeout", "CONVOT_ADMIN_ADDR", "CONVOT_HTTP_ADDR", "CONVOT_TLS_CERT"}, lacks: []string{"DATABASE_URL", "STRIPE_SECRET_KEY", "TEMPORAL_ADDRESS"}},
		"inventory":   {has: []string{"-json"}, lacks: []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "CONVOT_HTTP_ADDR"}},
		"policy":      {has: []string{"<subcommand> --help", "DATABASE_URL"}, lacks: []string{"CONVOT_HTTP_ADDR", "TEMPORAL_CLI"}},
	} {
		out := help(name)
		for _, want := range c.has {
			if !strings.Contains(out, want) {
				t.Errorf("convot %s --help lacks %s:\n%s", name, want, out)
			}
		}
		for _, not := range c.lacks {
			if strings.Contains(out, not+" ") {
				t.Errorf("convot %s --help lists %s, which it does not read", name, not)
			}
		}
	}
	// A subcommand's --help is answered by its flags, and is no error.
	var file string
	err := flags("policy publish", []string{"--help"}, func(fs *flag.FlagSet) { fs.StringVar(&file, "file", "", "the new policy text") })
	if !errors.Is(err, errHelpShown) {
		t.Fatalf("policy publish --help: %v", err)
	}
}

// A malformed setting is a one-line error and exit status 1, never a panic.
func TestMalformedSettingIsOneLineError(t *testing.T) {
	if os.Getenv("CONVOT_HELPER_PROCESS") == "1" {
		os.Args = []string{"convot", os.Getenv("CONVOT_HELPER_COMMAND")}
		main()
		return
	}
	cases := map[string][]string{
		"DATABASE_URL":      {"DATABASE_URL=mysql://nope"},
		"CONVOT_MASTER_KEY": {"CONVOT_MASTER_KEY=short"},
		"CONVOT_HTTP_ADDR":  {"CONVOT_HTTP_ADDR=nonsense"},
		"REDIS_URL":         {"REDIS_URL=http://x"},
		"CONVOT_BASE_URL":   {"CONVOT_BASE_URL=/relative"},
	}
	for setting, env := range cases {
		for _, command := range []string{"serve", "migrate"} {
			cmd := exec.Command(os.Args[0], "-test.run=TestMalformedSettingIsOneLineError")
			cmd.Env = append(os.Environ(), "CONVOT_HELPER_PROCESS=1", "CONVOT_HELPER_COMMAND="+command, "CONVOT_DATA_DIR="+t.TempDir())
			cmd.Env = append(cmd.Env, env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("%s with bad %s: %v", command, setting, err)
			}
			msg := strings.TrimSpace(stderr.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, setting) || strings.Contains(msg, "panic") {
				t.Errorf("%s with bad %s: want one line naming it, got %q", command, setting, msg)
			}
		}
	}
}

func TestInventoryCommandPrintsTheRecordOfProcessing(t *testing.T) {
	var buf bytes.Buffer
	if err := runInventory(context.Background(), []string{"-json"}, &buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Records []models.ProcessingRecord `json:"records"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc.Records {
		if r.Category == "user.contact.email" && r.Subject == "end_user" && r.Stored == "contacts.email" {
			found = len(r.LegalBases) > 0 && r.Retention != "" && r.Form == "encrypted"
		}
	}
	if !found {
		t.Fatal("record of processing lacks the end users' email")
	}
	buf.Reset()
	if err := runInventory(context.Background(), nil, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "LEGAL BASIS") || !strings.Contains(buf.String(), "contacts.email") {
		t.Fatalf("table output: %s", buf.String())
	}
}

func TestPolicyCommands(t *testing.T) {
	var buf bytes.Buffer
	if err := runPolicy(context.Background(), []string{"test"}, &buf); err != nil {
		t.Fatalf("policy test: %v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), " passed, 0 failed") {
		t.Fatalf("policy test output: %s", buf.String())
	}
	flow := t.TempDir() + "/flow.json"
	writeFile(t, flow, `{"subprocessor":"openai","purpose":"functional.ai.embeddings","categories":["user.content.message"],
		"organization":{"id":1,"region":"us","ai_features":[]},"subject":{"kind":"end_user"},"feature":"embeddings"}`)
	buf.Reset()
	if err := runPolicy(context.Background(), []string{"eval", "--input", flow}, &buf); err != nil {
		t.Fatalf("policy eval: %v", err)
	}
	var d struct {
		Allow  bool
		Reason string
	}
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if d.Allow || d.Reason == "" {
		t.Fatalf("AI flow with the feature off: %s", buf.String())
	}
	writeFile(t, flow, `{"nonsense": true}`)
	if err := runPolicy(context.Background(), []string{"eval", "--input", flow}, &buf); err == nil {
		t.Fatal("a malformed flow file was accepted")
	}
	buf.Reset()
	if err := runAudit(context.Background(), []string{"promises"}, &buf); err != nil || !strings.Contains(buf.String(), "§10") || !strings.Contains(buf.String(), "not yet kept") {
		t.Fatalf("audit promises: %v %s", err, buf.String())
	}
}
