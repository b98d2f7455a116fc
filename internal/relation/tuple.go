package relation

import (
	"fmt"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// MaxIDLen is the longest object id, in bytes. An id is made of ASCII
// letters, digits and the characters _ - . / | = + ~; the colon, #, @, * and
// white space are reserved by the tuple syntax. Atrium's own ids
// (org_01JD3Q…) fit easily.
const MaxIDLen = 256

// Wildcard is the id of the subject that stands for every object of a type:
// user:* .
const Wildcard = "*"

// Object is an object of the model: its type and id, written type:id.
type Object struct {
	Type string
	ID   string
}

// String returns o as type:id.
func (o Object) String() string { return o.Type + ":" + o.ID }

// Subject is who a tuple relates to an object: an object (user:u1), every
// object of a type (user:*, ID is Wildcard), or a userset, the members of
// a relation of an object (team:t1#member, Relation set).
type Subject struct {
	Type     string
	ID       string
	Relation string
}

// String returns s as type:id, type:* or type:id#relation.
func (s Subject) String() string {
	if s.Relation != "" {
		return s.Type + ":" + s.ID + "#" + s.Relation
	}
	return s.Type + ":" + s.ID
}

// IsWildcard reports whether s is type:*.
func (s Subject) IsWildcard() bool { return s.ID == Wildcard }

// Object returns the object part of s: team:t1 for team:t1#member.
func (s Subject) Object() Object { return Object{s.Type, s.ID} }

// Kind returns the kind of s: its type, and its relation for a userset.
func (s Subject) Kind() SubjectType { return SubjectType{s.Type, s.Relation} }

// SubjectType is a kind of subject: the objects of Type (and its wildcard)
// when Relation is empty, else the usersets Type:…#Relation. It is written
// user or team#member.
type SubjectType struct {
	Type     string
	Relation string
}

// String returns t as type or type#relation.
func (t SubjectType) String() string {
	if t.Relation != "" {
		return t.Type + "#" + t.Relation
	}
	return t.Type
}

// Tuple is one relationship: Subject has Relation to Object, written
// object#relation@subject (org:acme#admin@user:u1).
type Tuple struct {
	Object   Object
	Relation string
	Subject  Subject
}

// String returns t as object#relation@subject.
func (t Tuple) String() string {
	return t.Object.String() + "#" + t.Relation + "@" + t.Subject.String()
}

// Fields returns the tuple's parts by name, as events and audit records
// carry them.
func (t Tuple) Fields() map[string]string {
	return map[string]string{"object": t.Object.String(), "relation": t.Relation, "subject": t.Subject.String()}
}

func invalidTuple(op, format string, args ...any) error {
	return fail(op, fault.Invalid, ErrInvalidTuple, format, args...)
}

// ParseObject parses type:id. Errors are fault.Invalid wrapping
// ErrInvalidTuple.
func ParseObject(s string) (Object, error) {
	const op = "relation.ParseObject"
	o, err := parseObject(s)
	if err != nil {
		return Object{}, invalidTuple(op, "object %.300q: %v", s, err)
	}
	return o, nil
}

func parseObject(s string) (Object, error) {
	typ, id, ok := strings.Cut(s, ":")
	if !ok {
		return Object{}, fmt.Errorf("want type:id")
	}
	if err := checkName(typ); err != nil {
		return Object{}, fmt.Errorf("type: %v", err)
	}
	if err := checkID(id); err != nil {
		return Object{}, err
	}
	return Object{typ, id}, nil
}

func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("empty id")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("id longer than %d bytes", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./|=+~", c) >= 0) {
			return fmt.Errorf("id has a character outside letters, digits and _-./|=+~")
		}
	}
	return nil
}

// ParseSubject parses user:u1, user:* or team:t1#member. Errors are
// fault.Invalid wrapping ErrInvalidTuple.
func ParseSubject(s string) (Subject, error) {
	const op = "relation.ParseSubject"
	sub, err := parseSubject(s)
	if err != nil {
		return Subject{}, invalidTuple(op, "subject %.300q: %v", s, err)
	}
	return sub, nil
}

func parseSubject(s string) (Subject, error) {
	obj, rel, userset := strings.Cut(s, "#")
	if userset {
		if err := checkName(rel); err != nil {
			return Subject{}, fmt.Errorf("relation: %v", err)
		}
	}
	typ, id, ok := strings.Cut(obj, ":")
	if !ok {
		return Subject{}, fmt.Errorf("want type:id, type:* or type:id#relation")
	}
	if err := checkName(typ); err != nil {
		return Subject{}, fmt.Errorf("type: %v", err)
	}
	if id == Wildcard {
		if userset {
			return Subject{}, fmt.Errorf("a wildcard cannot have a relation")
		}
		return Subject{Type: typ, ID: id}, nil
	}
	if err := checkID(id); err != nil {
		return Subject{}, err
	}
	return Subject{Type: typ, ID: id, Relation: rel}, nil
}

// ParseSubjectType parses user or team#member. Errors are fault.Invalid.
func ParseSubjectType(s string) (SubjectType, error) {
	const op = "relation.ParseSubjectType"
	typ, rel, userset := strings.Cut(s, "#")
	err := checkName(typ)
	if err == nil && userset {
		err = checkName(rel)
	}
	if err != nil {
		return SubjectType{}, fault.E(op, fault.Invalid, "subject type %.300q: %v", s, err)
	}
	return SubjectType{typ, rel}, nil
}

// ParseTuple parses object#relation@subject, such as
// org:acme#member@team:t1#member. Errors are fault.Invalid wrapping
// ErrInvalidTuple.
func ParseTuple(s string) (Tuple, error) {
	const op = "relation.ParseTuple"
	left, sub, ok := strings.Cut(s, "@")
	obj, rel, ok2 := strings.Cut(left, "#")
	if !ok || !ok2 {
		return Tuple{}, invalidTuple(op, "tuple %.300q: want object#relation@subject", s)
	}
	t, err := NewTuple(obj, rel, sub)
	if err != nil {
		return Tuple{}, invalidTuple(op, "tuple %.300q: %v", s, err)
	}
	return t, nil
}

// NewTuple builds a tuple from its three written parts, as an API receives
// them ({"object": "org:acme", "relation": "member", "subject": "user:u1"}).
// Errors are fault.Invalid wrapping ErrInvalidTuple.
func NewTuple(object, relation, subject string) (Tuple, error) {
	const op = "relation.NewTuple"
	o, err := parseObject(object)
	if err != nil {
		return Tuple{}, invalidTuple(op, "object %.300q: %v", object, err)
	}
	if err := checkName(relation); err != nil {
		return Tuple{}, invalidTuple(op, "relation %.100q: %v", relation, err)
	}
	s, err := parseSubject(subject)
	if err != nil {
		return Tuple{}, invalidTuple(op, "subject %.300q: %v", subject, err)
	}
	return Tuple{Object: o, Relation: relation, Subject: s}, nil
}

// ValidateTuple checks t against the model: the object's type defines the
// relation, the relation is directly assignable, and the subject is allowed
// by its type list (user needs [user], user:* needs [user:*], team:t#member
// needs [team#member]). Errors are fault.Invalid wrapping ErrInvalidTuple.
func (m *Model) ValidateTuple(t Tuple) error {
	const op = "relation.ValidateTuple"
	if err := checkTupleSyntax(t); err != nil {
		return invalidTuple(op, "tuple %s: %v", t, err)
	}
	r := m.relation(t.Object.Type, t.Relation)
	switch {
	case m.Type(t.Object.Type) == nil:
		return invalidTuple(op, "tuple %s: type %s is not defined", t, t.Object.Type)
	case r == nil:
		return invalidTuple(op, "tuple %s: relation %s#%s is not defined", t, t.Object.Type, t.Relation)
	case !allows(r.direct, t.Subject):
		return invalidTuple(op, "tuple %s: %s#%s does not allow subjects like %s", t, t.Object.Type, t.Relation, t.Subject)
	}
	return nil
}

// checkTupleSyntax checks the parts of a tuple built without parsing.
func checkTupleSyntax(t Tuple) error {
	if err := checkName(t.Object.Type); err != nil {
		return err
	}
	if err := checkID(t.Object.ID); err != nil {
		return err
	}
	if err := checkName(t.Relation); err != nil {
		return err
	}
	return checkSubject(t.Subject)
}

func checkSubject(s Subject) error {
	if err := checkName(s.Type); err != nil {
		return err
	}
	if s.IsWildcard() {
		if s.Relation != "" {
			return fmt.Errorf("a wildcard cannot have a relation")
		}
		return nil
	}
	if s.Relation != "" {
		if err := checkName(s.Relation); err != nil {
			return err
		}
	}
	return checkID(s.ID)
}

// allows reports whether a type list admits subject s.
func allows(direct []TypeRestriction, s Subject) bool {
	for _, d := range direct {
		if d.Type != s.Type {
			continue
		}
		switch {
		case s.Relation != "":
			if d.Relation == s.Relation {
				return true
			}
		case s.IsWildcard():
			if d.Wildcard {
				return true
			}
		case d.Relation == "" && !d.Wildcard:
			return true
		}
	}
	return false
}

// validateSubject checks that a query's subject names things the model
// defines. Errors are fault.Invalid wrapping ErrUnknownType or
// ErrUnknownRelation.
func (m *Model) validateSubject(op string, s Subject) error {
	if err := checkSubject(s); err != nil {
		return fail(op, fault.Invalid, ErrInvalidTuple, "subject %s: %v", s, err)
	}
	if m.Type(s.Type) == nil {
		return fail(op, fault.Invalid, ErrUnknownType, "subject %s: type %s is not defined", s, s.Type)
	}
	if s.Relation != "" && m.relation(s.Type, s.Relation) == nil {
		return fail(op, fault.Invalid, ErrUnknownRelation, "subject %s: relation %s#%s is not defined", s, s.Type, s.Relation)
	}
	return nil
}

// validateTarget checks that typ#rel exists. Errors are fault.Invalid
// wrapping ErrUnknownType or ErrUnknownRelation.
func (m *Model) validateTarget(op, typ, rel string) error {
	if m.Type(typ) == nil {
		return fail(op, fault.Invalid, ErrUnknownType, "type %.100q is not defined", typ)
	}
	if m.relation(typ, rel) == nil {
		return fail(op, fault.Invalid, ErrUnknownRelation, "relation %.100q is not defined on type %s", rel, typ)
	}
	return nil
}

// MaxTupleListBytes is the largest text ParseTupleList reads.
const MaxTupleListBytes = 16 << 20

// ParseTupleList parses a list of tuples written one per line in the form
// ParseTuple reads, as in a file of test tuples. Blank lines and lines
// starting with # are skipped; white space around a tuple is ignored; a
// tuple written twice is kept once. Errors are fault.Invalid wrapping
// ErrInvalidTuple and name the line, or fault.TooLarge past
// MaxTupleListBytes. It does not check the tuples against a model: use
// Model.ValidateTuple.
func ParseTupleList(text string) ([]Tuple, error) {
	const op = "relation.ParseTupleList"
	if len(text) > MaxTupleListBytes {
		return nil, fault.E(op, fault.TooLarge, "tuple list is larger than %d bytes", MaxTupleListBytes)
	}
	var out []Tuple
	seen := map[Tuple]bool{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		t, err := ParseTuple(line)
		if err != nil {
			msg, _ := fault.PublicOf(err)
			return nil, invalidTuple(op, "line %d: %s", n+1, msg)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}
