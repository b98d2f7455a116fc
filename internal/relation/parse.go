package relation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// Limits on model text. They bound the work of parsing and type checking a
// model that comes from outside.
const (
	// MaxModelBytes is the largest model text, and the largest sum of the
	// relation texts given to ParseKindRelations.
	MaxModelBytes = 512 << 10
	// MaxNameLen is the longest type or relation name, in bytes.
	MaxNameLen = 64
	// MaxTypes is the most types a model may declare.
	MaxTypes = 512
	// MaxRelations is the most relations a model may declare, over all its
	// types. The evaluator's index grows with its square.
	MaxRelations = 1024
	// MaxNesting is the deepest nesting of parentheses in a definition.
	MaxNesting = 16
	// MaxDirectTypes is the most entries in one direct type list.
	MaxDirectTypes = 64
)

// reserved names cannot name a type or a relation: OpenFGA reserves self
// and this, and the operator words would make definitions ambiguous.
var reserved = map[string]bool{
	"self": true, "this": true, "and": true, "or": true, "but": true,
	"not": true, "from": true, "with": true,
}

// ParseModel parses and type-checks a model written in the OpenFGA modeling
// language, schema 1.1:
//
//	model
//	  schema 1.1
//	type user
//	type org
//	  relations
//	    define owner: [user]
//	    define viewer: [user, team#member, user:*] or owner or viewer from parent
//
// Comments start with # at the beginning of a line or after white space.
// Operators of different kinds must be grouped with parentheses, and a
// direct type list may only be the first operand of its group, as in
// OpenFGA. Errors are fault.Invalid with the position as line:column;
// conditions, modules and schema 1.0 wrap ErrUnsupported.
func ParseModel(text string) (*Model, error) {
	const op = "relation.ParseModel"
	if len(text) > MaxModelBytes {
		return nil, fault.E(op, fault.TooLarge, "model is larger than %d bytes", MaxModelBytes)
	}
	p := &parser{lex: lexer{src: text, line: 1, col: 1}, path: "model", relCount: new(int)}
	types, err := p.model()
	if err != nil {
		return nil, p.wrap(op, err)
	}
	return buildModel(op, types)
}

// ParseKindRelations builds a model from the relations blocks of a kinds
// document: kinds maps each type name to the text of its define lines
// ("define owner: [user]\ndefine admin: [user] or owner"); an empty text
// declares a type without relations, such as user. Errors name the field
// kinds.<type>.relations and the line:column inside that text.
func ParseKindRelations(kinds map[string]string) (*Model, error) {
	const op = "relation.ParseKindRelations"
	if len(kinds) > MaxTypes {
		return nil, fault.E(op, fault.TooLarge, "more than %d kinds", MaxTypes)
	}
	names := make([]string, 0, len(kinds))
	total := 0
	for name, text := range kinds {
		names = append(names, name)
		total += len(text)
	}
	if total > MaxModelBytes {
		return nil, fault.E(op, fault.TooLarge, "relations are larger than %d bytes", MaxModelBytes)
	}
	sort.Strings(names)
	types := make([]*TypeDef, 0, len(names))
	relCount := new(int)
	for _, name := range names {
		p := &parser{lex: lexer{src: kinds[name], line: 1, col: 1}, path: "kinds." + name + ".relations", relCount: relCount}
		if err := checkName(name); err != nil {
			return nil, fault.Invalidf(op, []fault.Violation{{Field: "kinds." + name, Reason: err.Error()}},
				"kind %q: %v", name, err)
		}
		t := &TypeDef{Name: name, byName: map[string]*RelationDef{}}
		if err := p.relations(t, false); err != nil {
			return nil, p.wrap(op, err)
		}
		if p.tok.kind != tEOF {
			return nil, p.wrap(op, p.errf("expected define"))
		}
		types = append(types, t)
	}
	return buildModel(op, types)
}

// syntaxError is a parse failure at a position.
type syntaxError struct {
	line, col   int
	msg         string
	unsupported bool
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

type tokKind uint8

const (
	tEOF tokKind = iota
	tNewline
	tWord  // identifiers, keywords and version numbers
	tPunct // one of [ ] ( ) , : # * and anything else single-byte
)

type token struct {
	kind      tokKind
	text      string
	line, col int
}

// lexer splits model text into words, punctuation and newlines, dropping
// spaces and comments.
type lexer struct {
	src       string
	pos       int
	line, col int
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (l *lexer) advance(n int) {
	for i := 0; i < n; i++ {
		if l.src[l.pos] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.pos++
	}
}

func (l *lexer) next() token {
	afterSpace := l.pos == 0
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			l.advance(1)
			afterSpace = true
			continue
		case c == '#' && (afterSpace || l.pos > 0 && l.src[l.pos-1] == '\n'):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.advance(1)
			}
			continue
		}
		break
	}
	t := token{line: l.line, col: l.col}
	if l.pos >= len(l.src) {
		t.kind = tEOF
		return t
	}
	c := l.src[l.pos]
	switch {
	case c == '\n':
		t.kind, t.text = tNewline, "\n"
		l.advance(1)
	case isWordByte(c):
		end := l.pos
		for end < len(l.src) && isWordByte(l.src[end]) {
			end++
		}
		t.kind, t.text = tWord, l.src[l.pos:end]
		l.advance(end - l.pos)
	default:
		t.kind, t.text = tPunct, l.src[l.pos:l.pos+1]
		l.advance(1)
	}
	return t
}

// parser is a recursive-descent parser over the lexer with one token of
// lookahead.
type parser struct {
	lex      lexer
	tok      token
	path     string // the field named in errors
	init     bool
	relCount *int // relations parsed so far, shared by the parsers of one model
}

func (p *parser) peek() token {
	if !p.init {
		p.tok = p.lex.next()
		p.init = true
	}
	return p.tok
}

func (p *parser) take() token {
	t := p.peek()
	p.tok = p.lex.next()
	return t
}

func (p *parser) errf(format string, args ...any) error {
	t := p.peek()
	return &syntaxError{line: t.line, col: t.col, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unsupported(what string) error {
	t := p.peek()
	return &syntaxError{line: t.line, col: t.col, msg: what + " are not supported", unsupported: true}
}

// wrap turns a syntax error into the package's typed error.
func (p *parser) wrap(op string, err error) error {
	se, ok := err.(*syntaxError)
	if !ok {
		return err
	}
	reason := se.Error()
	fe := fault.Invalidf(op, []fault.Violation{{Field: p.path, Reason: reason}}, "%s: %s", p.path, reason)
	if se.unsupported {
		fe.Err = ErrUnsupported
	}
	return fe
}

func (p *parser) skipNewlines() {
	for p.peek().kind == tNewline {
		p.take()
	}
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tWord && t.text == w
}

func (p *parser) expectPunct(s string) error {
	if t := p.peek(); t.kind != tPunct || t.text != s {
		return p.errf("expected %q, found %s", s, describe(t))
	}
	p.take()
	return nil
}

// endOfStatement consumes the newline (or end of text) that ends a line.
func (p *parser) endOfStatement() error {
	switch p.peek().kind {
	case tNewline:
		p.take()
		return nil
	case tEOF:
		return nil
	}
	return p.errf("expected end of line, found %s", describe(p.peek()))
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of text"
	case tNewline:
		return "end of line"
	}
	return fmt.Sprintf("%q", t.text)
}

// name reads an identifier: a letter or underscore, then letters, digits,
// underscores and hyphens, at most MaxNameLen bytes, not a reserved word.
func (p *parser) name(what string) (string, error) {
	t := p.peek()
	if t.kind != tWord {
		return "", p.errf("expected %s, found %s", what, describe(t))
	}
	if err := checkName(t.text); err != nil {
		return "", p.errf("%s %q: %v", what, t.text, err)
	}
	p.take()
	return t.text, nil
}

func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("longer than %d bytes", MaxNameLen)
	}
	if reserved[s] {
		return fmt.Errorf("reserved word")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c == '-' || c >= '0' && c <= '9')) {
			return fmt.Errorf("not a name: use letters, digits, _ and -, starting with a letter or _")
		}
	}
	return nil
}

func (p *parser) model() ([]*TypeDef, error) {
	p.skipNewlines()
	switch {
	case p.isWord("module") || p.isWord("extend"):
		return nil, p.unsupported("modular models")
	case !p.isWord("model"):
		return nil, p.errf(`expected "model", found %s`, describe(p.peek()))
	}
	p.take()
	if err := p.endOfStatement(); err != nil {
		return nil, err
	}
	p.skipNewlines()
	if !p.isWord("schema") {
		return nil, p.errf(`expected "schema", found %s`, describe(p.peek()))
	}
	p.take()
	switch v := p.peek(); {
	case v.kind == tWord && v.text == "1.1":
		p.take()
	case v.kind == tWord && v.text == "1.0":
		return nil, p.unsupported("schema 1.0 models")
	default:
		return nil, p.errf("expected schema version 1.1, found %s", describe(v))
	}
	if err := p.endOfStatement(); err != nil {
		return nil, err
	}
	var types []*TypeDef
	for {
		p.skipNewlines()
		switch {
		case p.peek().kind == tEOF:
			return types, nil
		case p.isWord("type"):
			if len(types) == MaxTypes {
				return nil, p.errf("more than %d types", MaxTypes)
			}
			p.take()
			name, err := p.name("type name")
			if err != nil {
				return nil, err
			}
			if err := p.endOfStatement(); err != nil {
				return nil, err
			}
			t := &TypeDef{Name: name, byName: map[string]*RelationDef{}}
			p.skipNewlines()
			if p.isWord("relations") {
				p.take()
				if err := p.endOfStatement(); err != nil {
					return nil, err
				}
				if err := p.relations(t, true); err != nil {
					return nil, err
				}
			}
			types = append(types, t)
		case p.isWord("condition"):
			return nil, p.unsupported("conditions")
		case p.isWord("extend") || p.isWord("module"):
			return nil, p.unsupported("modular models")
		default:
			return nil, p.errf(`expected "type", found %s`, describe(p.peek()))
		}
	}
}

// relations parses define statements into t until a line that does not
// start with define. When atLeastOne is set, an empty block is an error.
func (p *parser) relations(t *TypeDef, atLeastOne bool) error {
	for {
		p.skipNewlines()
		if !p.isWord("define") {
			if atLeastOne && len(t.Relations) == 0 {
				return p.errf(`expected "define", found %s`, describe(p.peek()))
			}
			return nil
		}
		if *p.relCount >= MaxRelations {
			return p.errf("more than %d relations", MaxRelations)
		}
		*p.relCount++
		p.take()
		name, err := p.name("relation name")
		if err != nil {
			return err
		}
		if t.byName[name] != nil {
			return p.errf("relation %s is defined twice in type %s", name, t.Name)
		}
		if err := p.expectPunct(":"); err != nil {
			return err
		}
		rw, err := p.expr(true, 0)
		if err != nil {
			return err
		}
		if err := p.endOfStatement(); err != nil {
			return err
		}
		r := &RelationDef{Name: name, Rewrite: rw}
		t.Relations = append(t.Relations, r)
		t.byName[name] = r
	}
}

// operator reads the operator word at the lookahead, if any.
func (p *parser) operator() (Op, bool) {
	t := p.peek()
	if t.kind != tWord {
		return 0, false
	}
	switch t.text {
	case "or":
		return OpUnion, true
	case "and":
		return OpIntersection, true
	case "but":
		return OpExclusion, true
	}
	return 0, false
}

// expr parses operand (operator operand)*, where all operators are of one
// kind and "but not" appears at most once, as the OpenFGA grammar requires.
// allowDirect says whether the first operand may be a direct type list.
func (p *parser) expr(allowDirect bool, depth int) (*Rewrite, error) {
	first, err := p.operand(allowDirect, depth)
	if err != nil {
		return nil, err
	}
	op, ok := p.operator()
	if !ok {
		return first, nil
	}
	node := &Rewrite{Op: op, Children: []*Rewrite{first}}
	for {
		next, ok := p.operator()
		if !ok {
			break
		}
		if next != op {
			return nil, p.errf("mixing %q with other operators needs parentheses", opWord(op))
		}
		if op == OpExclusion && len(node.Children) == 2 {
			return nil, p.errf(`a second "but not" needs parentheses`)
		}
		p.take()
		if op == OpExclusion {
			if !p.isWord("not") {
				return nil, p.errf(`expected "not" after "but", found %s`, describe(p.peek()))
			}
			p.take()
		}
		c, err := p.operand(false, depth)
		if err != nil {
			return nil, err
		}
		// a or (b or c) is a or b or c: flatten to keep one canonical form.
		if c.Op == op && op != OpExclusion {
			node.Children = append(node.Children, c.Children...)
		} else {
			node.Children = append(node.Children, c)
		}
	}
	if op != OpExclusion && first.Op == op {
		node.Children = append(append([]*Rewrite{}, first.Children...), node.Children[1:]...)
	}
	return node, nil
}

func opWord(op Op) string {
	switch op {
	case OpUnion:
		return "or"
	case OpIntersection:
		return "and"
	}
	return "but not"
}

// operand parses a direct type list, a computed userset, a tuple-to-userset
// or a parenthesised expression.
func (p *parser) operand(allowDirect bool, depth int) (*Rewrite, error) {
	t := p.peek()
	switch {
	case t.kind == tPunct && t.text == "(":
		if depth >= MaxNesting {
			return nil, p.errf("parentheses nested deeper than %d", MaxNesting)
		}
		p.take()
		p.skipNewlines()
		inner, err := p.expr(allowDirect, depth+1)
		if err != nil {
			return nil, err
		}
		p.skipNewlines()
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return inner, nil
	case t.kind == tPunct && t.text == "[":
		if !allowDirect {
			return nil, p.errf("a direct type list must be the first operand of its group")
		}
		return p.direct()
	case t.kind == tWord && t.text == "with":
		return nil, p.unsupported("conditions")
	}
	rel, err := p.name("relation name")
	if err != nil {
		return nil, err
	}
	if !p.isWord("from") {
		return &Rewrite{Op: OpComputed, Relation: rel}, nil
	}
	p.take()
	ts, err := p.name("tupleset relation name")
	if err != nil {
		return nil, err
	}
	return &Rewrite{Op: OpTupleToUser, Relation: rel, Tupleset: ts}, nil
}

// direct parses [type, type:*, type#relation, …], allowing line breaks
// between entries.
func (p *parser) direct() (*Rewrite, error) {
	p.take() // [
	node := &Rewrite{Op: OpDirect}
	seen := map[TypeRestriction]bool{}
	for {
		p.skipNewlines()
		if len(node.Direct) == MaxDirectTypes {
			return nil, p.errf("more than %d entries in a type list", MaxDirectTypes)
		}
		typ, err := p.name("type name")
		if err != nil {
			return nil, err
		}
		r := TypeRestriction{Type: typ}
		if t := p.peek(); t.kind == tPunct && t.text == ":" {
			p.take()
			if err := p.expectPunct("*"); err != nil {
				return nil, err
			}
			r.Wildcard = true
		} else if t.kind == tPunct && t.text == "#" {
			p.take()
			if r.Relation, err = p.name("relation name"); err != nil {
				return nil, err
			}
		}
		if p.isWord("with") {
			return nil, p.unsupported("conditions")
		}
		if seen[r] {
			return nil, p.errf("%s appears twice in the type list", r)
		}
		seen[r] = true
		node.Direct = append(node.Direct, r)
		p.skipNewlines()
		t := p.peek()
		if t.kind == tPunct && t.text == "]" {
			p.take()
			return node, nil
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
	}
}

// buildModel type-checks the parsed types and returns the model.
func buildModel(op string, types []*TypeDef) (*Model, error) {
	m := &Model{types: types, byName: make(map[string]*TypeDef, len(types))}
	var vs []fault.Violation
	for _, t := range types {
		if m.byName[t.Name] != nil {
			vs = append(vs, fault.Violation{Field: t.Name, Reason: "type is defined twice"})
			continue
		}
		m.byName[t.Name] = t
		for _, r := range t.Relations {
			r.direct = directOf(r.Rewrite)
		}
	}
	if len(vs) == 0 {
		vs = typecheck(m)
	}
	if len(vs) > 0 {
		reasons := make([]string, len(vs))
		for i, v := range vs {
			reasons[i] = v.Field + ": " + v.Reason
		}
		return nil, fault.Invalidf(op, vs, "model does not type-check: %s", strings.Join(reasons, "; "))
	}
	m.index = newIndex(m)
	return m, nil
}

// directOf returns the type list of the direct node of w, which the parser
// allows only as the first operand of the first operand chain.
func directOf(w *Rewrite) []TypeRestriction {
	for w != nil {
		switch w.Op {
		case OpDirect:
			return w.Direct
		case OpUnion, OpIntersection, OpExclusion:
			w = w.Children[0]
		default:
			return nil
		}
	}
	return nil
}
