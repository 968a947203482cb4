package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
		if !strings.Contains(buf.String(), "DATABASE_URL") {
			t.Errorf("convot %s --help lacks DATABASE_URL", c.name)
		}
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
