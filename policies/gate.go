package policies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opametrics "github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/convot/convot/internal/metrics"
)

// DecisionQuery is the query the gate evaluates.
const DecisionQuery = "data.convot.egress.decision"

// Flow is one transfer of data to a subprocessor, as the caller declares it.
// Its JSON form is the policy's input document.
type Flow struct {
	// Subprocessor is the short name in the registry: aws, stripe, postmark,
	// sentry, redis, shopify, anthropic, openai.
	Subprocessor string `json:"subprocessor"`
	// Purpose is a fideslang purpose the subprocessor is registered for.
	Purpose string `json:"purpose"`
	// Categories are the data categories of every field that is to leave.
	Categories   []string       `json:"categories"`
	Organization OrgContext     `json:"organization,omitzero"`
	Subject      SubjectContext `json:"subject"`
	// DestinationRegion is where the data goes (us, eu); it may be left empty
	// for a subprocessor that processes in a single region.
	DestinationRegion string `json:"destination_region,omitempty"`
	// Feature is the AI feature the flow serves, if any; it must match the
	// purpose's.
	Feature string `json:"feature,omitempty"`
	// RecipientOrganization is the organization whose own endpoint receives
	// the data (recipient customer_endpoint): it must be Organization.
	RecipientOrganization uint64 `json:"recipient_organization,omitempty"`
	// Disclosure describes a disclosure request (policy §6) when the
	// recipient is the one it records (recipient disclosure_recipient).
	Disclosure *DisclosureContext `json:"disclosure,omitempty"`
}

// DisclosureContext is what the gate is told of a disclosure request: its
// kind (legal_demand, enforcement, merger, consent), whether an officer
// approved it, whether its recipient and legal basis are recorded, and the
// categories it asked for (only those may leave).
type DisclosureContext struct {
	Kind               string   `json:"kind"`
	Approved           bool     `json:"approved"`
	RecipientRecorded  bool     `json:"recipient_recorded"`
	LegalBasisRecorded bool     `json:"legal_basis_recorded"`
	Requested          []string `json:"requested"`
}

// OrgContext is the organization the data belongs to. A zero OrgContext is
// a missing organization.
type OrgContext struct {
	ID     uint64 `json:"id"`
	Region string `json:"region"`
	// AIFeatures are the AI features the organization turned on (summary,
	// suggested_reply, automated_answer, translation, language_detection,
	// embeddings).
	AIFeatures []string `json:"ai_features"`
	// ShopifyScopes are the scopes the organization authorized to the
	// Convot Shopify app (read_customers, read_orders).
	ShopifyScopes []string `json:"shopify_scopes"`
	// Deployment marks Convot itself (ID 0) acting as the controller of its
	// own records, e.g. answering a privacy request made to Convot; a
	// missing ID is never taken for it.
	Deployment bool `json:"deployment,omitempty"`
}

// SubjectContext is the data subject the data is about.
type SubjectContext struct {
	// Kind is customer, end_user, or none (system data only).
	Kind string `json:"kind,omitempty"`
	// Restricted: the subject asked to restrict processing (stored, nothing more).
	Restricted bool `json:"restricted"`
	// Objections: legitimate_interests, direct_marketing, automated_decisions.
	Objections []string `json:"objections"`
	// Consents the subject gave, e.g. marketing_email.
	Consents []string `json:"consents"`
	// Country is where the subject is, when known (ISO 3166-1 alpha-2, e.g.
	// the contact's country from GeoIP): the origin of a transfer (policy
	// §7); else the organization's region is.
	Country string `json:"country,omitempty"`
}

// Decision is the gate's answer for one flow.
type Decision struct {
	Allow bool `json:"allow"`
	// Reason is the reasons joined by "; ".
	Reason  string   `json:"reason"`
	Reasons []string `json:"reasons"`
	// Drop lists categories to remove from the payload before sending.
	Drop []string `json:"drop"`
	// Redact lists categories whose values are replaced by "[redacted]".
	Redact []string `json:"redact"`
	// Categories are the flow's declared categories: the only ones that may
	// leave under this decision (see Apply).
	Categories     []string `json:"categories"`
	PolicyRevision string   `json:"policy_revision"`
}

// Gate authorizes flows with the prepared egress policy. It is safe for
// concurrent use.
type Gate struct {
	policy   *compiledPolicy
	log      DecisionLog
	revision string
	now      func() time.Time
	cache    *decisionCache // nil: every flow is evaluated
}

// DefaultDecisionCacheSize is how many distinct flows a gate remembers the
// decision of, unless WithDecisionCache says otherwise.
const DefaultDecisionCacheSize = 4096

// Option configures a Gate.
type Option func(*gateConfig)

// WithDecisionCache sets how many distinct flows the gate remembers the
// decision of; 0 turns the cache off. A decision is a pure function of the
// flow and the policy revision, and a gate's policy never changes, so a
// remembered decision is the one the policy would take again. Only
// successful evaluations are remembered, and every decision, remembered or
// not, is recorded in the decision log.
func WithDecisionCache(size int) Option {
	return func(c *gateConfig) { c.cacheSize = size }
}

// gateConfig is what a gate is built from; NewGate uses the embedded policy.
type gateConfig struct {
	query     string
	modules   map[string]string
	registry  []byte
	cacheSize int
}

// NewGate compiles the embedded policy and prepares its decision query once.
// Every decision is recorded in log, which is required.
func NewGate(ctx context.Context, log DecisionLog, opts ...Option) (*Gate, error) {
	cfg := gateConfig{query: DecisionQuery, modules: policyModules(), registry: RegistryDocument(), cacheSize: DefaultDecisionCacheSize}
	for _, o := range opts {
		o(&cfg)
	}
	return newGate(ctx, log, cfg)
}

func newGate(ctx context.Context, log DecisionLog, cfg gateConfig) (*Gate, error) {
	if log == nil {
		return nil, errors.New("policies: a decision log is required")
	}
	if cfg.cacheSize < 0 {
		return nil, errors.New("policies: negative decision cache size")
	}
	policy, err := compilePolicy(ctx, cfg)
	if err != nil {
		return nil, err
	}
	g := &Gate{policy: policy, log: log, revision: revision(cfg.modules, cfg.registry), now: time.Now}
	if cfg.cacheSize > 0 {
		g.cache = newDecisionCache(cfg.cacheSize)
	}
	return g, nil
}

// compiledPolicy is the policy compiled once, with its registry, and the
// decision query compiled against it. Each decision is one topdown query
// over them: rego.PreparedEvalQuery.Eval would set up, per call, what does
// not change between decisions (a context of options, metrics, a
// transaction, a cancellation goroutine) and convert the result to Go
// values; see BenchmarkBareRegoP99 for the difference.
type compiledPolicy struct {
	compiler *ast.Compiler
	query    ast.Body // binds resultVar to the decision
	store    storage.Store
	// txn is one read transaction over the registry, opened once: nothing
	// writes the store after compilePolicy (it is the gate's own), and reads
	// of the in-memory store need no more than a transaction handle.
	txn storage.Transaction
}

// resultVar is the variable the decision query binds.
var resultVar = ast.Var("__decision__")

// compilePolicy parses and compiles cfg's modules over cfg's registry, with
// the registry's index evaluated once (withIndexValue), and compiles the
// query, which must be a single term (a reference to the decision).
func compilePolicy(ctx context.Context, cfg gateConfig) (*compiledPolicy, error) {
	var data map[string]any
	if err := json.Unmarshal(cfg.registry, &data); err != nil {
		return nil, fmt.Errorf("policies: registry: %w", err)
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	modules, err := parseModules(cfg.modules)
	if err != nil {
		return nil, err
	}
	index, err := evalIndex(ctx, modules, store)
	if err != nil {
		return nil, err
	}
	for name, m := range modules {
		modules[name] = withIndexValue(m, index)
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("policies: %w", compiler.Errors)
	}
	parsed, err := ast.ParseBodyWithOpts(cfg.query, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("policies: query %s: %w", cfg.query, err)
	}
	decision, ok := parsed[0].Terms.(*ast.Term)
	if len(parsed) != 1 || !ok || parsed[0].Negated || len(parsed[0].With) > 0 {
		return nil, fmt.Errorf("policies: query %s: want one term, the decision", cfg.query)
	}
	query, err := compiler.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), decision)))
	if err != nil {
		return nil, fmt.Errorf("policies: query %s: %w", cfg.query, err)
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("policies: registry transaction: %w", err)
	}
	return &compiledPolicy{compiler: compiler, query: query, store: store, txn: txn}, nil
}

// parseModules parses Rego v1 modules by file name.
func parseModules(srcs map[string]string) (map[string]*ast.Module, error) {
	modules := make(map[string]*ast.Module, len(srcs))
	for name, src := range srcs {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("policies: %w", err)
		}
		modules[name] = m
	}
	return modules, nil
}

// noMetrics: the gate counts decisions itself (metrics.GateDecision); a
// query without metrics would make a set of its own per decision.
var noMetrics = opametrics.NoOp()

// eval evaluates the decision query over input, and returns the value of
// each result (one, for a well-formed policy), as the policy's own AST
// values: parseDecision reads them without a conversion to Go values.
// Builtin errors fail the evaluation, as in rego.StrictBuiltinErrors. The
// rules' values are cached in a ruleValues of the pool.
func (p *compiledPolicy) eval(ctx context.Context, input ast.Value) ([]*ast.Term, error) {
	values := getRuleValues()
	defer putRuleValues(values)
	var results []*ast.Term
	err := topdown.NewQuery(p.query).
		WithVirtualCache(values).
		WithCompiler(p.compiler).
		WithStore(p.store).
		WithTransaction(p.txn).
		WithInput(ast.NewTerm(input)).
		WithStrictBuiltinErrors(true).
		WithMetrics(noMetrics).
		Iter(ctx, func(qr topdown.QueryResult) error {
			results = append(results, qr[resultVar])
			return nil
		})
	return results, err
}

// indexRef is the registry's index (egress.rego): rules that read the
// registry and never the input, so that their value is the same for every
// decision. The gate evaluates it once, and compiles the policy with the
// index's rules replaced by that value (withIndexValue): every decision reads
// it instead of evaluating the rules again. (A `with` on the query would do
// the same, at about a tenth of a decision's cost.)
var indexRef = ast.MustParseRef("data.convot.egress.index")

// evalIndex evaluates the index over the store's registry; nil if the
// modules define none (the previous policy, kept for comparison).
func evalIndex(ctx context.Context, modules map[string]*ast.Module, store storage.Store) (*ast.Term, error) {
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("policies: %w", compiler.Errors)
	}
	if len(compiler.GetRulesWithPrefix(indexRef)) == 0 {
		return nil, nil
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("policies: registry index: %w", err)
	}
	defer store.Abort(ctx, txn)
	index := ast.VarTerm("index")
	var results []topdown.QueryResult
	err = topdown.NewQuery(ast.NewBody(ast.Equality.Expr(index, ast.RefTerm(indexRef...)))).
		WithCompiler(compiler).WithStore(store).WithTransaction(txn).WithStrictBuiltinErrors(true).
		Iter(ctx, func(qr topdown.QueryResult) error { results = append(results, qr); return nil })
	if err != nil {
		return nil, fmt.Errorf("policies: registry index: %w", err)
	}
	if len(results) != 1 {
		return nil, fmt.Errorf("policies: registry index: %d results, want one", len(results))
	}
	return results[0][index.Value.(ast.Var)], nil
}

// withIndexValue is m with the rules of the index replaced by one rule,
// index, whose value is the index's.
func withIndexValue(m *ast.Module, index *ast.Term) *ast.Module {
	if index == nil {
		return m
	}
	cpy := *m
	cpy.Rules = nil
	for _, r := range m.Rules {
		if !r.Ref().HasPrefix(indexRef) {
			cpy.Rules = append(cpy.Rules, r)
		}
	}
	if len(cpy.Rules) == len(m.Rules) { // another module
		return m
	}
	rule := &ast.Rule{
		Head:   ast.NewHead(ast.Var(indexRef[len(indexRef)-1].Value.(ast.String)), nil, index),
		Body:   ast.NewBody(ast.NewExpr(ast.BooleanTerm(true))),
		Module: &cpy,
	}
	rule.Head.Assign = true
	cpy.Rules = append(cpy.Rules, rule)
	return &cpy
}

// Revision is the policy revision of the gate's decisions.
func (g *Gate) Revision() string {
	if g == nil {
		return ""
	}
	return g.revision
}

// Authorize decides whether f may leave. It fails closed: an evaluation
// error, an undefined or malformed result, or a decision that could not be
// recorded gives Allow=false with the reason, and a non-nil error. A denial
// by the policy is not an error.
func (g *Gate) Authorize(ctx context.Context, f Flow) (Decision, error) {
	if g == nil || g.log == nil {
		return Decision{Reason: "egress gate failed closed: no gate", Categories: slices.Clone(f.Categories)},
			errors.New("policies: nil gate")
	}
	d, evalErr := g.evaluate(ctx, f)
	d.Categories = slices.Clone(f.Categories)
	d.PolicyRevision = g.revision
	if evalErr != nil {
		d = Decision{
			Reason:         "egress gate failed closed: " + evalErr.Error(),
			Categories:     d.Categories,
			PolicyRevision: g.revision,
		}
		d.Reasons = []string{d.Reason}
	}
	rec := DecisionRecord{
		Time:           g.now().UTC(),
		OrganizationID: f.Organization.ID,
		Subprocessor:   f.Subprocessor,
		Purpose:        f.Purpose,
		Categories:     d.Categories,
		Allow:          d.Allow,
		Reason:         d.Reason,
		Drop:           d.Drop,
		Redact:         d.Redact,
		PolicyRevision: g.revision,
	}
	metrics.GateDecision(f.Subprocessor, d.Allow, evalErr)
	// The record is written even when the context is cancelled: a denial is
	// a decision too.
	if err := g.log.Record(context.WithoutCancel(ctx), rec); err != nil {
		logErr := fmt.Errorf("policies: decision log: %w", err)
		if d.Allow {
			d = Decision{
				Reason:         "egress gate failed closed: the decision could not be recorded",
				Categories:     d.Categories,
				PolicyRevision: g.revision,
			}
			d.Reasons = []string{d.Reason}
		}
		return d, errors.Join(evalErr, logErr)
	}
	return d, evalErr
}

// evaluate runs the prepared query and reads its result.
func (g *Gate) evaluate(ctx context.Context, f Flow) (d Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = Decision{}, fmt.Errorf("policy evaluation panicked: %v", r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("policy not evaluated: %w", err)
	}
	var key string
	if g.cache != nil {
		key = f.cacheKey()
		if d, ok := g.cache.get(key); ok {
			return d, nil
		}
	}
	results, err := g.policy.eval(ctx, f.input())
	if err != nil {
		return Decision{}, fmt.Errorf("policy evaluation: %w", err)
	}
	d, err = parseDecision(results)
	if err == nil && g.cache != nil {
		g.cache.put(key, d)
	}
	return d, err
}

// parseDecision reads {allow, reasons, drop, redact} from the results of
// the decision query.
func parseDecision(results []*ast.Term) (Decision, error) {
	if len(results) == 0 {
		return Decision{}, errors.New("policy decision undefined")
	}
	if len(results) != 1 {
		return Decision{}, fmt.Errorf("policy returned %d results, want exactly one decision", len(results))
	}
	obj, ok := results[0].Value.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("malformed policy decision: %s, want an object", ast.ValueName(results[0].Value))
	}
	allow, ok := valueOf(obj, "allow").(ast.Boolean)
	if !ok {
		return Decision{}, errors.New("malformed policy decision: allow is not a boolean")
	}
	var d Decision
	var err error
	if d.Reasons, err = stringList(obj, "reasons"); err != nil {
		return Decision{}, err
	}
	if d.Drop, err = stringList(obj, "drop"); err != nil {
		return Decision{}, err
	}
	if d.Redact, err = stringList(obj, "redact"); err != nil {
		return Decision{}, err
	}
	if len(d.Reasons) == 0 {
		return Decision{}, errors.New("malformed policy decision: no reasons")
	}
	d.Allow = bool(allow)
	d.Reason = strings.Join(d.Reasons, "; ")
	return d, nil
}

// valueOf is obj's value at key, nil if there is none.
func valueOf(obj ast.Object, key string) ast.Value {
	if t := obj.Get(stringTerm(key)); t != nil {
		return t.Value
	}
	return nil
}

func stringList(obj ast.Object, key string) ([]string, error) {
	raw, ok := valueOf(obj, key).(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("malformed policy decision: %s is not a list", key)
	}
	out := make([]string, 0, raw.Len())
	for i := range raw.Len() {
		s, ok := raw.Elem(i).Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("malformed policy decision: %s holds a %s", key, ast.ValueName(raw.Elem(i).Value))
		}
		out = append(out, string(s))
	}
	return out, nil
}

// input builds the policy's input document directly as an AST value (the
// same document as the JSON form of Flow, without a JSON round trip).
func (f Flow) input() ast.Value {
	items := make([][2]*ast.Term, 0, 10)
	items = append(items,
		ast.Item(stringTerm("subprocessor"), stringTerm(f.Subprocessor)),
		ast.Item(stringTerm("purpose"), stringTerm(f.Purpose)),
		ast.Item(stringTerm("categories"), stringArray(f.Categories)),
	)
	if !f.Organization.IsZero() {
		o := f.Organization
		org := make([][2]*ast.Term, 0, 5)
		org = append(org,
			ast.Item(stringTerm("id"), ast.UIntNumberTerm(o.ID)),
			ast.Item(stringTerm("region"), stringTerm(o.Region)),
			ast.Item(stringTerm("ai_features"), stringArray(o.AIFeatures)),
			ast.Item(stringTerm("shopify_scopes"), stringArray(o.ShopifyScopes)),
		)
		if o.Deployment { // omitted when false, as in the JSON form
			org = append(org, ast.Item(stringTerm("deployment"), ast.InternedTerm(true)))
		}
		items = append(items, ast.Item(stringTerm("organization"), ast.NewTerm(ast.NewObject(org...))))
	}
	s := f.Subject
	subject := make([][2]*ast.Term, 0, 5)
	subject = append(subject,
		ast.Item(stringTerm("restricted"), ast.InternedTerm(s.Restricted)),
		ast.Item(stringTerm("objections"), stringArray(s.Objections)),
		ast.Item(stringTerm("consents"), stringArray(s.Consents)),
	)
	if s.Kind != "" {
		subject = append(subject, ast.Item(stringTerm("kind"), stringTerm(s.Kind)))
	}
	if s.Country != "" { // omitted when empty, as in the JSON form
		subject = append(subject, ast.Item(stringTerm("country"), stringTerm(s.Country)))
	}
	items = append(items, ast.Item(stringTerm("subject"), ast.NewTerm(ast.NewObject(subject...))))
	if f.DestinationRegion != "" {
		items = append(items, ast.Item(stringTerm("destination_region"), stringTerm(f.DestinationRegion)))
	}
	if f.Feature != "" {
		items = append(items, ast.Item(stringTerm("feature"), stringTerm(f.Feature)))
	}
	if f.RecipientOrganization != 0 {
		items = append(items, ast.Item(stringTerm("recipient_organization"), ast.UIntNumberTerm(f.RecipientOrganization)))
	}
	if d := f.Disclosure; d != nil {
		items = append(items, ast.Item(stringTerm("disclosure"), ast.NewTerm(ast.NewObject(
			ast.Item(stringTerm("kind"), stringTerm(d.Kind)),
			ast.Item(stringTerm("approved"), ast.InternedTerm(d.Approved)),
			ast.Item(stringTerm("recipient_recorded"), ast.InternedTerm(d.RecipientRecorded)),
			ast.Item(stringTerm("legal_basis_recorded"), ast.InternedTerm(d.LegalBasisRecorded)),
			ast.Item(stringTerm("requested"), stringArray(d.Requested)),
		))))
	}
	return ast.NewObject(items...)
}

// IsZero reports a missing organization (the JSON form omits it).
func (o OrgContext) IsZero() bool {
	return o.ID == 0 && o.Region == "" && len(o.AIFeatures) == 0 && len(o.ShopifyScopes) == 0 && !o.Deployment
}

// inputTerms are string terms made once: the input document's keys and
// every key and string of the embedded registry (subprocessors, purposes,
// categories, regions, features...), which are what a flow's strings are.
// An input built of them allocates no term per string; topdown never
// modifies an input term, so one term may serve any number of evaluations.
var inputTerms = internedTerms()

func internedTerms() map[string]*ast.Term {
	terms := map[string]*ast.Term{}
	var add func(v any)
	add = func(v any) {
		switch v := v.(type) {
		case string:
			if terms[v] == nil {
				terms[v] = ast.StringTerm(v)
			}
		case map[string]any:
			for k, x := range v {
				add(k)
				add(x)
			}
		case []any:
			for _, x := range v {
				add(x)
			}
		}
	}
	for _, key := range []string{"subprocessor", "purpose", "categories", "organization", "id", "region", "ai_features",
		"shopify_scopes", "deployment", "subject", "kind", "restricted", "objections", "consents", "country",
		"destination_region", "feature", "recipient_organization", "disclosure", "approved", "recipient_recorded",
		"legal_basis_recorded", "requested", "allow", "reasons", "drop", "redact", "customer", "end_user", "none"} {
		add(key)
	}
	var registry any
	if err := json.Unmarshal(RegistryDocument(), &registry); err != nil {
		panic("policies: embedded registry unreadable: " + err.Error())
	}
	add(registry)
	return terms
}

// stringTerm is s as a term, an interned one when there is one.
func stringTerm(s string) *ast.Term {
	if t := inputTerms[s]; t != nil {
		return t
	}
	return ast.StringTerm(s)
}

// stringArray is ss as an array term; nil is null, as in the JSON form.
// Null and the empty array are OPA's interned terms, shared as the strings
// are.
func stringArray(ss []string) *ast.Term {
	if ss == nil {
		return ast.InternedNullTerm
	}
	if len(ss) == 0 {
		return ast.InternedEmptyArray
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = stringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}
