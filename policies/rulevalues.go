package policies

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ruleValues is topdown's virtual cache for one decision: the value of each
// rule the evaluation has evaluated, by reference, so that a rule referred
// to twice is evaluated once. topdown's own cache is a trie of hash maps,
// one per reference element, made anew for every evaluation: about a tenth
// of a clean decision's memory. A decision caches a handful of rules (a
// few dozen on the deny path), so a list scanned from its newest entry
// does, and the gate reuses one list per evaluation (ruleValuesPool).
type ruleValues struct {
	entries []ruleValue
	// terms holds the elements of every entry's reference: topdown passes
	// references that share a buffer it goes on writing.
	terms []*ast.Term
	// frames are where each frame starts in entries: topdown pushes one for
	// a `with`, whose values hold only under it.
	frames []int
}

type ruleValue struct {
	start, end int // the reference, in terms
	value      *ast.Term
	undefined  bool
}

var _ topdown.VirtualCache = (*ruleValues)(nil)

var ruleValuesPool = sync.Pool{New: func() any { return &ruleValues{frames: []int{0}} }}

// getRuleValues is an empty cache from the pool; putRuleValues returns it.
func getRuleValues() *ruleValues { return ruleValuesPool.Get().(*ruleValues) }

func putRuleValues(c *ruleValues) {
	clear(c.entries)
	clear(c.terms)
	c.entries, c.terms, c.frames = c.entries[:0], c.terms[:0], append(c.frames[:0], 0)
	ruleValuesPool.Put(c)
}

// Push starts a frame: nothing cached before it is visible until Pop.
func (c *ruleValues) Push() { c.frames = append(c.frames, len(c.entries)) }

// Pop drops the top frame and what was cached under it.
func (c *ruleValues) Pop() {
	top := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	if top < len(c.entries) {
		c.terms = c.terms[:c.entries[top].start]
	}
	clear(c.entries[top:])
	c.entries = c.entries[:top]
}

// find is the index of ref's entry in the top frame, or -1.
func (c *ruleValues) find(ref ast.Ref) int {
	top := c.frames[len(c.frames)-1]
	for i := len(c.entries) - 1; i >= top; i-- {
		if c.matches(c.entries[i], ref) {
			return i
		}
	}
	return -1
}

// matches compares ref with e's reference from its last element: the
// references of one policy share their first elements (data.convot.egress).
func (c *ruleValues) matches(e ruleValue, ref ast.Ref) bool {
	if e.end-e.start != len(ref) {
		return false
	}
	for i := len(ref) - 1; i >= 0; i-- {
		if !c.terms[e.start+i].Equal(ref[i]) {
			return false
		}
	}
	return true
}

// Get is ref's value; undefined reports a reference cached as undefined.
// (nil, false) is a reference not cached.
func (c *ruleValues) Get(ref ast.Ref) (*ast.Term, bool) {
	i := c.find(ref)
	if i < 0 {
		return nil, false
	}
	if c.entries[i].undefined {
		return nil, true
	}
	return c.entries[i].value, false
}

// Put caches ref's value; a nil value records ref as undefined, and that
// stays so (as in topdown's own cache).
func (c *ruleValues) Put(ref ast.Ref, value *ast.Term) {
	i := c.find(ref)
	if i < 0 {
		start := len(c.terms)
		c.terms = append(c.terms, ref...)
		c.entries = append(c.entries, ruleValue{start: start, end: len(c.terms)})
		i = len(c.entries) - 1
	}
	if value == nil {
		c.entries[i].undefined = true
	} else {
		c.entries[i].value = value
	}
}

// Keys are the references cached in the top frame with a value.
func (c *ruleValues) Keys() []ast.Ref {
	var keys []ast.Ref
	for _, e := range c.entries[c.frames[len(c.frames)-1]:] {
		if e.value != nil {
			keys = append(keys, ast.Ref(c.terms[e.start:e.end:e.end]))
		}
	}
	return keys
}
