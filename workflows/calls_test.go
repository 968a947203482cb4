package workflows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.temporal.io/sdk/workflow"
)

// The workflows call activities (and child workflows, and themselves on
// continue-as-new) by name, with arguments the SDK serialises: neither the
// compiler nor the testsuite (whose fakes are registered by the tests
// themselves) notices a misspelt name or an argument whose type drifted
// from the activity's. These tests read the workflow source with go/types
// and hold every such call against what the worker really registers.

const sdkWorkflowPkg = "go.temporal.io/sdk/workflow"

// byNameCalls are the SDK functions that name what they run: the name is
// argument 1, the arguments follow.
var byNameCalls = map[string]string{
	"ExecuteActivity":       "activity",
	"ExecuteChildWorkflow":  "child workflow",
	"NewContinueAsNewError": "continue-as-new",
}

// knownMismatches are mismatches the check found when it was written, by
// message, each with why it is tolerated for now. An entry that is no
// longer found fails the test, so the list can only shrink.
var knownMismatches = map[string]string{}

// TestWorkflowCallsMatchTheWorkersRegistrations: every activity and
// workflow called by name is registered by the worker under that name,
// takes the static types of the arguments passed (after its context), and
// returns the type the workflow decodes its result into.
func TestWorkflowCallsMatchTheWorkersRegistrations(t *testing.T) {
	reg := workerRegistrations(t)
	a := analyse(t)
	calls, problems := a.byNameCalls()
	if len(calls) == 0 {
		t.Fatal("no ExecuteActivity call found: the analysis is broken")
	}
	called, known := map[string]bool{}, map[string]bool{}
	for _, c := range calls {
		var registered map[string]reflect.Type
		if c.kind == "activity" {
			registered = reg.activities
		} else {
			registered = reg.workflows
		}
		fn, ok := registered[c.name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: %s %q is not registered by the worker (registered: %s)",
				c.pos, c.kind, c.name, strings.Join(sortedKeys(registered), ", ")))
			continue
		}
		if c.kind == "activity" {
			called[c.name] = true
		}
		for _, m := range c.check(fn) {
			if why, ok := knownMismatches[m]; ok {
				known[m] = true
				t.Logf("%s: known mismatch: %s (%s)", c.pos, m, why)
				continue
			}
			problems = append(problems, c.pos+": "+m)
		}
		t.Logf("%s: %s %s(%s) -> %s", c.pos, c.kind, c.name, strings.Join(c.args, ", "), c.result)
	}
	for _, name := range sortedKeys(reg.activities) {
		if !called[name] {
			t.Logf("activity %s is registered but no workflow calls it", name)
		}
	}
	for _, m := range sortedKeys(knownMismatches) {
		if !known[m] {
			problems = append(problems, "knownMismatches lists a mismatch no longer found (remove it): "+m)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d mismatches between the workflows' calls and the worker's registrations:\n\t%s",
			len(problems), strings.Join(problems, "\n\t"))
	}
}

// TestEveryGetVersionHasAnOldBranchTest: each workflow.GetVersion change
// ID in the workflows is forced to workflow.DefaultVersion by some test
// (env.OnGetVersion), so the branch that old histories replay is run.
func TestEveryGetVersionHasAnOldBranchTest(t *testing.T) {
	a := analyse(t)
	var problems []string
	versioned := map[string]string{} // change ID -> position
	for _, f := range a.files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !a.isSDKFunc(call, "GetVersion") || len(call.Args) < 2 {
				return true
			}
			id, ok := a.constString(call.Args[1])
			if !ok {
				problems = append(problems, a.pos(call)+": GetVersion with a change ID that is not a constant")
				return true
			}
			versioned[id] = a.pos(call)
			return true
		})
	}
	tested := a.onGetVersionTests(t)
	for _, id := range sortedKeys(versioned) {
		if !tested[id] {
			problems = append(problems, fmt.Sprintf("%s: GetVersion(%q) has no test forcing workflow.DefaultVersion (env.OnGetVersion(%q, ...).Return(workflow.DefaultVersion))", versioned[id], id, id))
		}
	}
	if len(problems) > 0 {
		t.Error(strings.Join(problems, "\n"))
	}
}

// --- loading -----------------------------------------------------------------

type analysis struct {
	fset  *token.FileSet
	dir   string
	files []*ast.File
	pkg   *types.Package
	info  *types.Info

	decls   map[types.Object]*ast.FuncDecl
	callsTo map[*ast.FuncDecl][]callIn // call sites of each function or method
	parents map[ast.Node]ast.Node
}

// callIn is a call of a function of the package, inside decl.
type callIn struct {
	call *ast.CallExpr
	decl *ast.FuncDecl
}

// analyse type-checks the workflows package (its non-test files) from
// source. Dependencies come from the compiler's export data, which
// `go list -export` builds or finds in the build cache: no source importer
// (slow over the Temporal API), no dependency beyond the standard library.
func analyse(t *testing.T) *analysis {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to locate export data: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-export", "-deps", "-json=ImportPath,Export,Dir,GoFiles", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.String())
	}
	type listed struct {
		ImportPath, Export, Dir string
		GoFiles                 []string
	}
	exports := map[string]string{}
	var self listed
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		self = p // -deps lists the package itself last
	}

	a := &analysis{fset: token.NewFileSet(), dir: self.Dir}
	for _, name := range self.GoFiles {
		f, err := parser.ParseFile(a.fset, filepath.Join(self.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		a.files = append(a.files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(a.fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})}
	a.info = &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	a.pkg, err = conf.Check(self.ImportPath, a.fset, a.files, a.info)
	if err != nil {
		t.Fatalf("type-checking %s: %v", self.ImportPath, err)
	}
	a.index()
	return a
}

// index notes each function's declaration, the calls into each, and every
// node's parent.
func (a *analysis) index() {
	a.decls = map[types.Object]*ast.FuncDecl{}
	a.callsTo = map[*ast.FuncDecl][]callIn{}
	a.parents = map[ast.Node]ast.Node{}
	for _, f := range a.files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				a.decls[a.info.Defs[fd.Name]] = fd
			}
		}
	}
	for _, f := range a.files {
		var stack []ast.Node
		var decl *ast.FuncDecl
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if len(stack) > 0 {
				a.parents[n] = stack[len(stack)-1]
			}
			stack = append(stack, n)
			if fd, ok := n.(*ast.FuncDecl); ok {
				decl = fd
			}
			if call, ok := n.(*ast.CallExpr); ok && decl != nil {
				if callee, ok := a.decls[a.callee(call)]; ok {
					a.callsTo[callee] = append(a.callsTo[callee], callIn{call: call, decl: decl})
				}
			}
			return true
		})
	}
}

func (a *analysis) callee(call *ast.CallExpr) types.Object {
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		return a.info.Uses[fun]
	case *ast.SelectorExpr:
		if sel, ok := a.info.Selections[fun]; ok {
			return sel.Obj()
		}
		return a.info.Uses[fun.Sel]
	}
	return nil
}

func (a *analysis) isSDKFunc(call *ast.CallExpr, name string) bool {
	fn, ok := a.callee(call).(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == sdkWorkflowPkg && fn.Name() == name
}

func (a *analysis) pos(n ast.Node) string {
	p := a.fset.Position(n.Pos())
	return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
}

func (a *analysis) constString(e ast.Expr) (string, bool) {
	tv, ok := a.info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

// --- following names and arguments back to their callers ----------------------

// chain is a path of calls ending in the function that holds a by-name
// call: chain[0].decl holds it, chain[i].call is the call into chain[i].decl
// made in chain[i+1].decl, and the last link's call is nil (not followed).
type chain []link

type link struct {
	decl *ast.FuncDecl
	call *ast.CallExpr
}

// paramIndex is the position of v among decl's parameters (receiver
// excluded), or -1.
func paramIndex(info *types.Info, decl *ast.FuncDecl, v types.Object) int {
	i := 0
	for _, field := range decl.Type.Params.List {
		if len(field.Names) == 0 {
			i++
			continue
		}
		for _, name := range field.Names {
			if info.Defs[name] == v {
				return i
			}
			i++
		}
	}
	return -1
}

// resolve follows e, as long as it is a parameter of the function it is in,
// to the argument the caller passed. free reports a parameter of the
// chain's outermost function, whose callers are not followed yet.
func (a *analysis) resolve(e ast.Expr, ch chain) (ast.Expr, bool) {
	for i := 0; ; {
		id, ok := ast.Unparen(e).(*ast.Ident)
		if !ok {
			return e, false
		}
		idx := paramIndex(a.info, ch[i].decl, a.info.Uses[id])
		if idx < 0 {
			return e, false
		}
		if ch[i].call == nil {
			return e, true
		}
		if idx >= len(ch[i].call.Args) || ch[i].call.Ellipsis.IsValid() {
			return e, false // variadic: left unresolved, reported by the caller
		}
		e, i = ch[i].call.Args[idx], i+1
	}
}

// expand follows the chain out through every caller while one of exprs is
// still a parameter; each way in is a chain of its own, so that a name and
// an argument passed together stay together.
func (a *analysis) expand(ch chain, exprs []ast.Expr, depth int) []chain {
	free := false
	for _, e := range exprs {
		if _, f := a.resolve(e, ch); f {
			free = true
		}
	}
	top := ch[len(ch)-1]
	if !free || depth > 8 || len(a.callsTo[top.decl]) == 0 {
		return []chain{ch}
	}
	var out []chain
	for _, in := range a.callsTo[top.decl] {
		next := append(append(chain{}, ch[:len(ch)-1]...), link{decl: top.decl, call: in.call}, link{decl: in.decl})
		out = append(out, a.expand(next, exprs, depth+1)...)
	}
	return out
}

// --- by-name calls ---------------------------------------------------------------

// byNameCall is one way a by-name call is made: its name and the static
// types of its arguments and of what its result is decoded into.
type byNameCall struct {
	pos, kind, name string
	args            []string // typeString of each argument
	result          string   // "" when the result is not read
}

func (a *analysis) byNameCalls() ([]byNameCall, []string) {
	var calls []byNameCall
	var problems []string
	for _, f := range a.files {
		var decl *ast.FuncDecl
		ast.Inspect(f, func(n ast.Node) bool {
			if fd, ok := n.(*ast.FuncDecl); ok {
				decl = fd
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for fn, kind := range byNameCalls {
				if !a.isSDKFunc(call, fn) {
					continue
				}
				c, p := a.byNameCall(call, decl, kind)
				calls, problems = append(calls, c...), append(problems, p...)
			}
			return true
		})
	}
	return calls, problems
}

func (a *analysis) byNameCall(call *ast.CallExpr, decl *ast.FuncDecl, kind string) ([]byNameCall, []string) {
	at := a.pos(call)
	if len(call.Args) < 2 || call.Ellipsis.IsValid() {
		return nil, []string{at + ": " + kind + " call with arguments spread from a slice: cannot check it"}
	}
	nameExpr, argExprs := call.Args[1], call.Args[2:]
	resultExpr, resultProblem := a.resultPointer(call)
	var problems []string
	if resultProblem != "" {
		problems = append(problems, at+": "+resultProblem)
	}
	// Follow the name, and any argument whose static type is an interface,
	// back to the callers that supply them.
	follow := []ast.Expr{nameExpr}
	for _, e := range argExprs {
		if types.IsInterface(a.info.TypeOf(e)) {
			follow = append(follow, e)
		}
	}
	var out []byNameCall
	for _, ch := range a.expand(chain{{decl: decl}}, follow, 0) {
		c := byNameCall{pos: at, kind: kind}
		var via []string
		for _, l := range ch {
			if l.call != nil {
				via = append(via, a.pos(l.call))
			}
		}
		if len(via) > 0 {
			c.pos += " (called at " + strings.Join(via, " <- ") + ")"
		}
		e, _ := a.resolve(nameExpr, ch)
		name, ok := a.constString(e)
		if !ok {
			if sig, isFunc := a.info.TypeOf(e).(*types.Signature); isFunc && sig != nil {
				// A function value: the SDK names it after the function.
				name, ok = funcName(e), true
			}
		}
		if !ok {
			problems = append(problems, c.pos+": "+kind+" name is not a constant the analysis can follow")
			continue
		}
		c.name = name
		for i, e := range argExprs {
			e, _ = a.resolve(e, ch)
			typ := a.info.TypeOf(e)
			if types.IsInterface(typ) {
				problems = append(problems, fmt.Sprintf("%s: argument %d of %s %s has the static type %s: its concrete type cannot be checked",
					c.pos, i+1, kind, name, typeString(typ)))
			}
			c.args = append(c.args, typeString(typ))
		}
		if resultExpr != nil {
			if ptr, ok := a.info.TypeOf(resultExpr).(*types.Pointer); ok {
				c.result = typeString(ptr.Elem())
			} else {
				problems = append(problems, fmt.Sprintf("%s: the result of %s %s is decoded into %s, not a pointer",
					c.pos, kind, name, typeString(a.info.TypeOf(resultExpr))))
			}
		}
		out = append(out, c)
	}
	return out, problems
}

func funcName(e ast.Expr) string {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// resultPointer finds what a call's future is decoded into: the pointer
// passed to Get, called on the call directly, on the variable or field the
// future is stored in, or on the future a selector's AddFuture callback
// receives for it. It returns nil when the result is not read (Get with
// nil, or never).
func (a *analysis) resultPointer(call *ast.CallExpr) (ast.Expr, string) {
	var gets []*ast.CallExpr
	switch p := a.parents[call].(type) {
	case *ast.SelectorExpr:
		if g, ok := a.parents[p].(*ast.CallExpr); ok && p.Sel.Name == "Get" && g.Fun == p {
			gets = append(gets, g)
		}
	case *ast.AssignStmt:
		for i, rhs := range p.Rhs {
			if rhs == call && i < len(p.Lhs) {
				gets = a.getsOn(a.objectOf(p.Lhs[i]))
			}
		}
	case *ast.ValueSpec:
		for i, v := range p.Values {
			if v == call && i < len(p.Names) {
				gets = a.getsOn(a.info.Defs[p.Names[i]])
			}
		}
	}
	var ptr ast.Expr
	for _, g := range gets {
		if len(g.Args) != 2 {
			continue
		}
		if tv := a.info.Types[g.Args[1]]; tv.IsNil() {
			continue
		}
		if ptr != nil && !types.Identical(a.info.TypeOf(ptr), a.info.TypeOf(g.Args[1])) {
			return nil, "its result is decoded into two different types"
		}
		ptr = g.Args[1]
	}
	return ptr, ""
}

func (a *analysis) objectOf(e ast.Expr) types.Object {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		if o := a.info.Defs[e]; o != nil {
			return o
		}
		return a.info.Uses[e]
	case *ast.SelectorExpr:
		if sel, ok := a.info.Selections[e]; ok {
			return sel.Obj()
		}
	}
	return nil
}

// getsOn finds the Get calls on the future stored in obj: obj.Get(...),
// and f.Get(...) inside s.AddFuture(obj, func(f workflow.Future) {...}).
func (a *analysis) getsOn(obj types.Object) []*ast.CallExpr {
	if obj == nil {
		return nil
	}
	var gets []*ast.CallExpr
	isGetOn := func(call *ast.CallExpr, on func(ast.Expr) bool) bool {
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Get" && on(sel.X)
	}
	for _, f := range a.files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if isGetOn(call, func(x ast.Expr) bool { return a.objectOf(x) == obj }) {
				gets = append(gets, call)
			}
			sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "AddFuture" || len(call.Args) != 2 || a.objectOf(call.Args[0]) != obj {
				return true
			}
			lit, ok := call.Args[1].(*ast.FuncLit)
			if !ok || len(lit.Type.Params.List) == 0 || len(lit.Type.Params.List[0].Names) == 0 {
				return true
			}
			param := a.info.Defs[lit.Type.Params.List[0].Names[0]]
			ast.Inspect(lit.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok && isGetOn(c, func(x ast.Expr) bool { return a.objectOf(x) == param }) {
					gets = append(gets, c)
				}
				return true
			})
			return true
		})
	}
	return gets
}

// check compares a call with the registered function's signature; the
// messages leave out the call's position.
func (c byNameCall) check(fn reflect.Type) []string {
	var problems []string
	what := c.kind + " " + c.name
	if fn.Kind() != reflect.Func {
		return []string{what + " is registered as a " + fn.Kind().String()}
	}
	var params []string
	for i := range fn.NumIn() {
		if i == 0 && isContext(fn.In(0)) {
			continue // context.Context or workflow.Context: supplied by the SDK
		}
		params = append(params, reflectTypeString(fn.In(i)))
	}
	if len(params) != len(c.args) {
		problems = append(problems, fmt.Sprintf("%s is passed %d arguments (%s) but takes %d (%s)",
			what, len(c.args), strings.Join(c.args, ", "), len(params), strings.Join(params, ", ")))
	} else {
		for i := range params {
			if params[i] != c.args[i] {
				problems = append(problems, fmt.Sprintf("%s: argument %d is %s but the registered function takes %s",
					what, i+1, c.args[i], params[i]))
			}
		}
	}
	if c.result == "" {
		return problems
	}
	if fn.NumOut() != 2 {
		return append(problems, fmt.Sprintf("%s: the workflow decodes a result into %s but the registered function returns none", what, c.result))
	}
	if got := reflectTypeString(fn.Out(0)); got != c.result {
		problems = append(problems, fmt.Sprintf("%s: the workflow decodes the result into %s but the registered function returns %s", what, c.result, got))
	}
	return problems
}

var (
	contextType         = reflect.TypeFor[context.Context]()
	workflowContextType = reflect.TypeFor[workflow.Context]()
)

func isContext(t reflect.Type) bool { return t == contextType || t == workflowContextType }

// typeString and reflectTypeString spell a type the same way from go/types
// and from reflect: named types with their full package path.
func typeString(t types.Type) string {
	t = types.Unalias(types.Default(t))
	if iface, ok := t.(*types.Interface); ok && iface.Empty() {
		return "any"
	}
	return types.TypeString(t, nil)
}

func reflectTypeString(t reflect.Type) string {
	if t.Name() != "" {
		if t.PkgPath() == "" {
			return t.Name()
		}
		return t.PkgPath() + "." + t.Name()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + reflectTypeString(t.Elem())
	case reflect.Slice:
		return "[]" + reflectTypeString(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), reflectTypeString(t.Elem()))
	case reflect.Map:
		return "map[" + reflectTypeString(t.Key()) + "]" + reflectTypeString(t.Elem())
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "any"
		}
	}
	return t.String()
}

// --- GetVersion tests ------------------------------------------------------------

// onGetVersionTests finds the change IDs the package's tests force to the
// old branch: env.OnGetVersion(id, ...).Return(workflow.DefaultVersion),
// id a string literal or a constant of the package.
func (a *analysis) onGetVersionTests(t *testing.T) map[string]bool {
	t.Helper()
	tests, err := filepath.Glob(filepath.Join(a.dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tests)
	ids := map[string]bool{}
	for _, name := range tests {
		f, err := parser.ParseFile(a.fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ret, ok := n.(*ast.CallExpr)
			if !ok || !isMethodCall(ret, "Return") || len(ret.Args) != 1 {
				return true
			}
			if v, ok := ret.Args[0].(*ast.SelectorExpr); !ok || v.Sel.Name != "DefaultVersion" {
				return true
			}
			call, ok := ret.Fun.(*ast.SelectorExpr).X.(*ast.CallExpr)
			if !ok || !isMethodCall(call, "OnGetVersion") || len(call.Args) == 0 {
				return true
			}
			switch arg := call.Args[0].(type) {
			case *ast.BasicLit:
				if v := constant.MakeFromLiteral(arg.Value, arg.Kind, 0); v.Kind() == constant.String {
					ids[constant.StringVal(v)] = true
				}
			case *ast.Ident:
				if c, ok := a.pkg.Scope().Lookup(arg.Name).(*types.Const); ok && c.Val().Kind() == constant.String {
					ids[constant.StringVal(c.Val())] = true
				}
			}
			return true
		})
	}
	return ids
}

func isMethodCall(call *ast.CallExpr, name string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name
}
