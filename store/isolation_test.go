package store

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

// An isolationCase calls one organization-scoped method with the other
// organization's ID and the first organization's row IDs, and fails the
// test when anything of the first organization comes back or changes.
type isolationCase struct {
	method string
	check  func(t *testing.T, f *fixture)
}

// isolationCases is filled by the isolation_*_test.go files, one case for
// every method whose first parameter after the context is orgID.
var isolationCases []isolationCase

// fixture is two organizations, each with an owner, a contact, a
// conversation with one message. A is the victim, B the caller.
type fixture struct {
	ctx   context.Context
	store *Store
	now   time.Time
	A, B  tenant
}

type tenant struct {
	Org          models.Organization
	Owner        models.Account
	Contact      models.Contact
	Conversation models.Conversation
	Message      models.Message
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db := testdb.New(t)
	f := &fixture{ctx: context.Background(), store: New(db.DB, db.Keys), now: time.Now().UTC().Truncate(time.Second)}
	f.A = f.tenant(t, "a")
	f.B = f.tenant(t, "b")
	return f
}

func (f *fixture) tenant(t testing.TB, name string) tenant {
	t.Helper()
	db := f.store.with(f.ctx)
	var tn tenant
	tn.Org = models.Organization{PublicKey: "pk_" + name, CompanyName: "Org " + name, Region: "eu", Status: models.OrgActive, InactivityHours: 24}
	must(t, db.Create(&tn.Org).Error)
	tn.Owner = models.Account{OrganizationID: tn.Org.ID, FullName: "Owner " + name, Email: "owner-" + name + "@example.com", Role: models.RoleOwner, Status: "active"}
	must(t, db.Create(&tn.Owner).Error)
	tn.Contact = models.Contact{OrganizationID: tn.Org.ID, Name: "Contact " + name, Email: "contact-" + name + "@example.com"}
	must(t, db.Create(&tn.Contact).Error)
	tn.Conversation = models.Conversation{OrganizationID: tn.Org.ID, ContactID: tn.Contact.ID, DataKeyID: tn.Contact.DataKeyID,
		Channel: "widget", Status: models.ConversationOpen, LastMessageAt: f.now, CreatedAt: f.now, UpdatedAt: f.now}
	must(t, db.Create(&tn.Conversation).Error)
	tn.Message = models.Message{OrganizationID: tn.Org.ID, ConversationID: tn.Conversation.ID, DataKeyID: tn.Contact.DataKeyID,
		AuthorType: "contact", AuthorID: tn.Contact.ID, Body: "hello from " + name, DeliveryStatus: "sent", CreatedAt: f.now}
	must(t, db.Create(&tn.Message).Error)
	return tn
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEveryOrganizationMethodRefusesAnotherOrganization runs every case
// against a fresh pair of organizations.
func TestEveryOrganizationMethodRefusesAnotherOrganization(t *testing.T) {
	for _, c := range isolationCases {
		t.Run(c.method, func(t *testing.T) {
			t.Parallel() // each case has a database of its own
			c.check(t, newFixture(t))
		})
	}
}

// TestEveryOrganizationMethodHasAnIsolationCase keeps the table complete:
// a new method that takes orgID and has no case fails here.
func TestEveryOrganizationMethodHasAnIsolationCase(t *testing.T) {
	scoped := organizationMethods(t)
	covered := map[string]bool{}
	for _, c := range isolationCases {
		covered[c.method] = true
	}
	var missing []string
	for _, m := range scoped {
		if !covered[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("organization-scoped store methods without a cross-tenant case: %s", strings.Join(missing, ", "))
	}
	for m := range covered {
		if !contains(scoped, m) {
			t.Errorf("isolation case %q names no organization-scoped method", m)
		}
	}
	if len(scoped) == 0 {
		t.Fatal("found no organization-scoped methods: the parser is looking in the wrong place")
	}
}

// organizationMethods lists the methods of *Store (and *Store's
// transactions) whose first parameter after the context is named orgID.
func organizationMethods(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || !takesOrgID(fn.Type.Params) {
				continue
			}
			out = append(out, fn.Name.Name)
		}
	}
	sort.Strings(out)
	return out
}

func takesOrgID(params *ast.FieldList) bool {
	var names []string
	for _, p := range params.List {
		for _, n := range p.Names {
			names = append(names, n.Name)
		}
	}
	switch {
	case len(names) >= 2 && names[0] == "ctx":
		return names[1] == "orgID"
	case len(names) >= 1:
		return names[0] == "orgID"
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
