// Package relationtest runs OpenFGA's own conformance suites (the
// openfga/ folder of the shared vectors) against the relationship engine
// over any tuple store, so that the in-memory store and the SQL stores are
// held to the same answers.
package relationtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/relation"
	"github.com/atriumid/atrium/internal/testvectors"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// The OpenFGA conformance suites (openfga/openfga assets/tests, see the
// vectors README): each test has stages; a stage installs a model, adds
// tuples (they accumulate across stages) and asserts relation.Check, relation.ListObjects and
// ListUsers answers or error codes.

type fgaSuite struct {
	Tests []struct {
		Name   string     `yaml:"name"`
		Stages []fgaStage `yaml:"stages"`
	} `yaml:"tests"`
}

type fgaStage struct {
	Model       string     `yaml:"model"`
	Tuples      []fgaTuple `yaml:"tuples"`
	Checks      []fgaCheck `yaml:"checkAssertions"`
	ListObjects []struct {
		Request struct {
			User       string     `yaml:"user"`
			Type       string     `yaml:"type"`
			Relation   string     `yaml:"relation"`
			Contextual []fgaTuple `yaml:"contextualTuples"`
		} `yaml:"request"`
		fgaListExpect `yaml:",inline"`
	} `yaml:"listObjectsAssertions"`
	ListUsers []struct {
		Request struct {
			Filters    []string   `yaml:"filters"`
			Object     string     `yaml:"object"`
			Relation   string     `yaml:"relation"`
			Contextual []fgaTuple `yaml:"contextualTuples"`
		} `yaml:"request"`
		fgaListExpect `yaml:",inline"`
	} `yaml:"listUsersAssertions"`
}

// fgaListExpect is what list assertions share beside their request.
type fgaListExpect struct {
	Contextual  []fgaTuple     `yaml:"contextualTuples"`
	Context     map[string]any `yaml:"context"`
	Expectation []string       `yaml:"expectation"`
	ErrorCode   int            `yaml:"errorCode"`
}

type fgaTuple struct {
	Object    string `yaml:"object"`
	Relation  string `yaml:"relation"`
	User      string `yaml:"user"`
	Condition any    `yaml:"condition"`
}

type fgaCheck struct {
	Tuple       fgaTuple       `yaml:"tuple"`
	Contextual  []fgaTuple     `yaml:"contextualTuples"`
	Context     map[string]any `yaml:"context"`
	Expectation bool           `yaml:"expectation"`
	ErrorCode   int            `yaml:"errorCode"`
}

// tally counts outcomes per assertion kind.
type tally map[string]*[3]int // pass, skip, fail

func (c tally) add(kind string, outcome, n int) {
	if c[kind] == nil {
		c[kind] = &[3]int{}
	}
	c[kind][outcome] += n
}

const (
	passed = iota
	skipped
	failed
)

// Store is a tuple store the suite writes to and the engine reads from.
type Store interface {
	relation.TupleReader
	// Write adds tuples; writing one that exists is not an error.
	Write(ctx context.Context, ts ...relation.Tuple) error
}

// Suites are the OpenFGA suites in the vectors folder.
var Suites = []string{"openfga/consolidated_1_1_tests.yaml", "openfga/abac_tests.yaml"}

// RunOpenFGA runs the OpenFGA conformance suite name (a path inside the
// vectors folder), each test on an empty store from newStore, and logs how
// many assertions of each kind passed, were skipped (unsupported features)
// and failed.
func RunOpenFGA(t *testing.T, name string, newStore func(t *testing.T) Store) {
	raw, err := os.ReadFile(testvectors.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var suite fgaSuite
	if err := yaml.Unmarshal(raw, &suite); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	counts := tally{}
	for _, tc := range suite.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			runTest(t, newStore(t), tc.Stages, counts)
		})
	}
	for _, kind := range []string{"check", "listObjects", "listUsers"} {
		counts.add(kind, passed, 0)
		c := counts[kind]
		t.Logf("%s %s: %d passed, %d skipped, %d failed", name, kind, c[passed], c[skipped], c[failed])
	}
}

// unsupported returns why a stage cannot run here, or "".
func stageUnsupported(tuples []fgaTuple) string {
	for _, tu := range tuples {
		if tu.Condition != nil {
			return "conditional tuples are not supported"
		}
	}
	return ""
}

func runTest(t *testing.T, store Store, stages []fgaStage, counts tally) {
	ctx := context.Background()
	skipReason := ""
	for si, st := range stages {
		var m *relation.Model
		if skipReason == "" {
			var err error
			m, err = relation.ParseModel(st.Model)
			switch {
			case errors.Is(err, relation.ErrUnsupported):
				skipReason = err.Error()
			case err != nil:
				t.Fatalf("stage %d: relation.ParseModel = %v", si, err)
			}
		}
		if skipReason == "" {
			skipReason = stageUnsupported(st.Tuples)
		}
		if skipReason != "" {
			counts.add("check", skipped, len(st.Checks))
			counts.add("listObjects", skipped, len(st.ListObjects))
			counts.add("listUsers", skipped, len(st.ListUsers))
			continue
		}
		for _, tu := range st.Tuples {
			tp, err := relation.NewTuple(tu.Object, tu.Relation, tu.User)
			if err == nil {
				err = m.ValidateTuple(tp)
			}
			if err != nil {
				t.Fatalf("stage %d: tuple %v: %v", si, tu, err)
			}
			if err := store.Write(ctx, tp); err != nil {
				t.Fatalf("stage %d: write %v: %v", si, tu, err)
			}
		}
		for i, a := range st.Checks {
			run(t, counts, "check", fmt.Sprintf("stage%d/check%d", si, i), func(t *testing.T) string {
				if a.Context != nil || stageUnsupported(a.Contextual) != "" {
					return "conditions and request context are not supported"
				}
				ct, cerr := parseContextual(a.Contextual)
				var got bool
				var err error
				if cerr != nil {
					err = cerr
				} else {
					var tp relation.Tuple
					tp, err = relation.NewTuple(a.Tuple.Object, a.Tuple.Relation, a.Tuple.User)
					if err == nil {
						got, err = relation.Check(ctx, m, store, relation.CheckRequest{Subject: tp.Subject, Relation: tp.Relation, Object: tp.Object, Contextual: ct})
					}
				}
				if !matchError(t, err, a.ErrorCode) {
					return ""
				}
				if a.ErrorCode == 0 && got != a.Expectation {
					t.Errorf("relation.Check(%s %s %s) = %v, want %v", a.Tuple.User, a.Tuple.Relation, a.Tuple.Object, got, a.Expectation)
				}
				return ""
			})
		}
		for i, a := range st.ListObjects {
			run(t, counts, "listObjects", fmt.Sprintf("stage%d/listObjects%d", si, i), func(t *testing.T) string {
				ctxTuples := append(slices.Clone(a.Contextual), a.Request.Contextual...)
				if a.Context != nil || stageUnsupported(ctxTuples) != "" {
					return "conditions and request context are not supported"
				}
				var got []string
				ct, err := parseContextual(ctxTuples)
				if err == nil {
					var s relation.Subject
					if s, err = relation.ParseSubject(a.Request.User); err == nil {
						var ids []string
						ids, err = relation.ListObjects(ctx, m, store, relation.ListObjectsRequest{Type: a.Request.Type, Relation: a.Request.Relation, Subject: s, Contextual: ct})
						for _, id := range ids {
							got = append(got, a.Request.Type+":"+id)
						}
					}
				}
				if !matchError(t, err, a.ErrorCode) || a.ErrorCode != 0 {
					return ""
				}
				want := slices.Sorted(slices.Values(a.Expectation))
				if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
					t.Errorf("relation.ListObjects(%s %s %s) (-want +got):\n%s", a.Request.User, a.Request.Relation, a.Request.Type, diff)
				}
				return ""
			})
		}
		for i, a := range st.ListUsers {
			run(t, counts, "listUsers", fmt.Sprintf("stage%d/listUsers%d", si, i), func(t *testing.T) string {
				ctxTuples := append(slices.Clone(a.Contextual), a.Request.Contextual...)
				if a.Context != nil || stageUnsupported(ctxTuples) != "" {
					return "conditions and request context are not supported"
				}
				if len(a.Request.Filters) != 1 {
					t.Fatalf("want one filter, have %v", a.Request.Filters)
				}
				var got []string
				ct, err := parseContextual(ctxTuples)
				var obj relation.Object
				var f relation.SubjectType
				if err == nil {
					obj, err = relation.ParseObject(a.Request.Object)
				}
				if err == nil {
					f, err = relation.ParseSubjectType(a.Request.Filters[0])
				}
				if err == nil {
					var subs []relation.Subject
					subs, err = relation.ListSubjects(ctx, m, store, relation.ListSubjectsRequest{Object: obj, Relation: a.Request.Relation, Filter: f, Contextual: ct})
					for _, s := range subs {
						got = append(got, s.String())
					}
				}
				if !matchError(t, err, a.ErrorCode) || a.ErrorCode != 0 {
					return ""
				}
				want := slices.Sorted(slices.Values(a.Expectation))
				if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
					t.Errorf("relation.ListSubjects(%s %s %s) (-want +got):\n%s", a.Request.Object, a.Request.Relation, f, diff)
				}
				return ""
			})
		}
	}
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

// run runs one assertion as a subtest and counts its outcome; f returns a
// reason to skip, or "".
func run(t *testing.T, counts tally, kind, name string, f func(t *testing.T) string) {
	reason := ""
	ok := t.Run(name, func(t *testing.T) {
		if reason = f(t); reason != "" {
			t.Skip(reason)
		}
	})
	switch {
	case reason != "":
		counts.add(kind, skipped, 1)
	case !ok:
		counts.add(kind, failed, 1)
	default:
		counts.add(kind, passed, 1)
	}
}

func parseContextual(ts []fgaTuple) ([]relation.Tuple, error) {
	var out []relation.Tuple
	for _, tu := range ts {
		tp, err := relation.NewTuple(tu.Object, tu.Relation, tu.User)
		if err != nil {
			return nil, err
		}
		out = append(out, tp)
	}
	return out, nil
}

// matchError compares err with an OpenFGA error code (0 for none) and
// reports whether they agree.
func matchError(t *testing.T, err error, code int) bool {
	t.Helper()
	var ok bool
	switch code {
	case 0:
		ok = err == nil
	case 2000: // validation_error
		ok = fault.Is(err, fault.Invalid)
	case 2002: // authorization_model_resolution_too_complex
		ok = errors.Is(err, relation.ErrDepthExceeded)
	case 2021: // type_not_found
		ok = errors.Is(err, relation.ErrUnknownType)
	case 2022: // relation_not_found
		ok = errors.Is(err, relation.ErrUnknownRelation)
	case 2027: // invalid_tuple
		ok = errors.Is(err, relation.ErrInvalidTuple)
	default:
		t.Fatalf("unknown OpenFGA error code %d", code)
	}
	if !ok {
		t.Errorf("error = %v, want OpenFGA code %d", err, code)
	}
	return ok
}
