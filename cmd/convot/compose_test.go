package main

import (
	"bufio"
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
)

// composeSecrets are the only variables .env holds: everything else is
// written in docker-compose.yml.
var composeSecrets = []string{"POSTGRES_PASSWORD", "CONVOT_MASTER_KEY", "S3_SECRET_KEY"}

// loadCompose reads ../../docker-compose.yml as `docker compose config`
// does (compose-go: schema, interpolation, merge of the x-convot anchor,
// consistency of depends_on and volumes), with env as the environment.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("convot", true) })
}

// docker-compose.yml is valid for compose and keeps the promises of the
// production topology: secrets only from the environment (.env holds
// nothing else, the database password has one place), images pinned to
// exact versions, a healthcheck on every long-running service (Convot's
// through `convot healthcheck`), volumes where state lives, an object store
// whose bucket is created at start, Temporal from its production images
// with a schema job (no auto-setup), and migrate waiting for its
// dependencies.
func TestComposeFileIsValid(t *testing.T) {
	secrets := map[string]string{}
	for _, name := range composeSecrets {
		secrets[name] = "secret-" + strings.ToLower(name)
	}
	secrets["CONVOT_MASTER_KEY"] = crypto.GenerateMasterKey(1)
	p, err := loadCompose(t, secrets)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	// Each secret is required: a missing one stops `docker compose up`.
	for _, name := range composeSecrets {
		partial := maps.Clone(secrets)
		delete(partial, name)
		if _, err := loadCompose(t, partial); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("compose loads without %s: %v", name, err)
		}
	}

	pinned := regexp.MustCompile(`^[a-z0-9./-]+:(\d+\.\d+(\.\d+)?[\w.-]*|RELEASE\.[0-9TZ-]+)$`) // PostgreSQL versions are major.minor
	var convot []string
	for name, s := range p.Services {
		if s.Build != nil {
			convot = append(convot, name)
		} else if !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to an exact version", name, s.Image)
		}
		oneShot := s.Restart == "no"
		hc := s.HealthCheck
		if !oneShot && (hc == nil || hc.Disable || len(hc.Test) == 0) {
			t.Errorf("%s: no healthcheck", name)
		}
		if strings.Contains(s.Image, "auto-setup") {
			t.Errorf("%s: auto-setup image (development only)", name)
		}
		// Secrets are interpolated, never written in the file.
		for k, v := range s.Environment {
			if v == nil {
				continue
			}
			for _, secret := range composeSecrets {
				if strings.Contains(*v, secrets[secret]) && !slices.Contains([]string{"PGPASSWORD", "POSTGRES_PASSWORD", "POSTGRES_PWD", "SQL_PASSWORD", "CONVOT_MASTER_KEY", "AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD", "S3_SECRET_KEY"}, k) {
					t.Errorf("%s: secret %s reaches %s", name, secret, k)
				}
			}
		}
	}
	slices.Sort(convot)
	if want := []string{"convot-web-1", "convot-web-2", "convot-worker", "migrate"}; !slices.Equal(convot, want) {
		t.Fatalf("Convot services %v, want %v", convot, want)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "${POSTGRES_PASSWORD"); n == 0 || regexp.MustCompile(`postgres://[^@\s]*:[^@\s]*@`).Match(raw) {
		t.Errorf("the database password must come from POSTGRES_PASSWORD only (found %d references, or a password in a URL)", n)
	}

	for _, name := range convot {
		s := p.Services[name]
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		// What Convot reads is a valid configuration.
		if _, err := config.Load(env); err != nil {
			t.Errorf("%s: configuration: %v", name, err)
		}
		if env("CONVOT_S3_BUCKET") == "" || env("REDIS_URL") == "" || env("DATABASE_URL") == "" || env("TEMPORAL_ADDRESS") == "" {
			t.Errorf("%s: not on S3, Redis, PostgreSQL and Temporal", name)
		}
		if env("PGPASSWORD") != secrets["POSTGRES_PASSWORD"] || env("CONVOT_MASTER_KEY") != secrets["CONVOT_MASTER_KEY"] || env("AWS_SECRET_ACCESS_KEY") != secrets["S3_SECRET_KEY"] {
			t.Errorf("%s: secrets not taken from the environment", name)
		}
		dataDir := env("CONVOT_DATA_DIR")
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == dataDir && v.Type == types.VolumeTypeVolume }) {
			t.Errorf("%s: no volume on CONVOT_DATA_DIR %q", name, dataDir)
		}
		if name != "migrate" {
			if hc := s.HealthCheck; hc == nil || !slices.Contains(hc.Test, "healthcheck") || !slices.Contains(hc.Test, "/usr/local/bin/convot") || env("CONVOT_ADMIN_ADDR") == "" {
				t.Errorf("%s: healthcheck is not `convot healthcheck` on the admin listener: %+v", name, s.HealthCheck)
			}
			if s.DependsOn["migrate"].Condition != types.ServiceConditionCompletedSuccessfully || s.DependsOn["objectstore-bucket"].Condition != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("%s: starts before migrate and the bucket are done: %+v", name, s.DependsOn)
			}
		}
	}
	m := p.Services["migrate"]
	if !slices.Contains(m.Command, "-wait") || m.DependsOn["temporal"].Condition != types.ServiceConditionHealthy || m.DependsOn["postgres"].Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate does not wait for PostgreSQL and Temporal: %v %+v", m.Command, m.DependsOn)
	}
	for service, target := range map[string]string{"postgres": "/var/lib/postgresql/data", "objectstore": "/data"} {
		if !slices.ContainsFunc(p.Services[service].Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == target && v.Type == types.VolumeTypeVolume }) {
			t.Errorf("%s: no named volume on %s", service, target)
		}
	}
	if b := p.Services["objectstore-bucket"]; !strings.Contains(strings.Join(b.Command, " "), "mb --ignore-existing store/convot") {
		t.Errorf("the bucket convot is not created at start: %v", b.Command)
	}
	if tmp := p.Services["temporal"]; tmp.DependsOn["temporal-schema"].Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("temporal starts before its schema job: %+v", tmp.DependsOn)
	}

	// The Temporal UI is published nowhere: Convot serves it under its
	// own origin at /temporal/ (CONVOT_TEMPORAL_UI_URL), behind the
	// dashboard session, with the codec same-origin at /codec.
	for name, s := range p.Services {
		if len(s.Ports) > 0 && s.Build == nil {
			t.Errorf("%s publishes %v: only Convot is published", name, s.Ports)
		}
	}
	ui := p.Services["temporal-ui"]
	for k, want := range map[string]string{"TEMPORAL_UI_PUBLIC_PATH": "/temporal", "TEMPORAL_CODEC_ENDPOINT": "/codec"} {
		if v := ui.Environment[k]; v == nil || *v != want {
			t.Errorf("temporal-ui: %s is not %s", k, want)
		}
	}
	for _, name := range []string{"convot-web-1", "convot-web-2"} {
		if v := p.Services[name].Environment["CONVOT_TEMPORAL_UI_URL"]; v == nil || *v != "http://temporal-ui:8080" {
			t.Errorf("%s does not proxy the Temporal UI (CONVOT_TEMPORAL_UI_URL)", name)
		}
	}

	// .env.example lists exactly the secrets.
	f, err := os.Open(filepath.Join("..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names = append(names, strings.SplitN(line, "=", 2)[0])
	}
	slices.Sort(names)
	want := slices.Clone(composeSecrets)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf(".env.example holds %v, want only the secrets %v", names, want)
	}
}

// .dockerignore keeps the dev data directory (its master key and SQLite),
// node_modules, .git and .env out of the image's build context.
func TestDockerignoreKeepsStateOut(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for _, want := range []string{"/data/", "node_modules/", ".git/", ".env"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}

// The README's configuration lists every setting `convot --help` lists.
func TestReadmeListsEverySetting(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range config.Settings {
		if !strings.Contains(string(raw), "`"+s.Name+"`") {
			t.Errorf("README.md does not document %s", s.Name)
		}
	}
}
