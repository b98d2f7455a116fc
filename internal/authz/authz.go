// Package authz answers "may this subject do that to this object?" over the
// relationship tuples stored beside the accounts: it writes tuples, and runs
// the relationship engine (package relation) at a snapshot whose revision it
// returns, so that a client holding a freshness token never sees a state
// older than its own writes.
//
// The model comes from the kinds document: each kind's relations. It is
// parsed once per document version.
//
// Results of checks without contextual tuples are cached across requests
// (and, through the cache's shared level, across replicas), keyed by the
// model and the relationship revision they were computed at. A revision
// names exactly one set of tuples (revisions follow commit order), so a
// cached answer is never stale for its revision; a write moves the revision
// and so bypasses every entry made before it.
package authz

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/relation"
)

// Limits.
const (
	MaxTuplesPerWrite = 100
	MaxPageSize       = 1000
	DefaultPageSize   = 100
	// MaxListResults bounds what one ListObjects or ListSubjects evaluates
	// before paging.
	MaxListResults = 10000
	// DefaultListTimeout bounds a list query that carries no deadline.
	DefaultListTimeout = 10 * time.Second
)

// Write is one atomic batch of relationship changes. Deletes apply before
// writes. By default, as in OpenFGA, writing a tuple that exists or deleting
// one that does not fails the whole batch; the Ignore flags make those
// no-ops instead.
type Write struct {
	Writes           []relation.Tuple
	Deletes          []relation.Tuple
	IgnoreDuplicates bool
	IgnoreMissing    bool
	// Events and Audit are appended in the write's transaction, after the
	// tuples; Service.Write fills them, one of each per tuple.
	Events []outbox.Event
	Audit  []audit.Entry
}

// Filter selects stored tuples for reading: one object type, optionally
// one object, one relation and one subject, after a tuple (for paging).
type Filter struct {
	ObjectType string
	ObjectID   string
	Relation   string
	Subject    *relation.Subject
	After      *relation.Tuple
	Limit      int
}

// Store stores tuples.
type Store interface {
	// Write applies w in one transaction and returns the new revision. It
	// returns fault.Invalid for a duplicate write or a missing delete
	// (unless ignored).
	Write(ctx context.Context, w Write) (int64, error)
	// Snapshot runs fn on one consistent read snapshot, with the revision
	// that snapshot holds.
	Snapshot(ctx context.Context, fn func(ctx context.Context, rev int64, r relation.TupleReader) error) error
	// Read returns up to f.Limit tuples matching f, in key order, and the
	// revision they were read at.
	Read(ctx context.Context, f Filter) ([]relation.Tuple, int64, error)
}

// Service is the relationship service. It is safe for concurrent use.
type Service struct {
	store     Store
	kinds     *kind.Registry
	freshness *freshness.Codec

	cache     CheckCache // nil: every check is evaluated
	mu        sync.Mutex
	model     *relation.Model // guarded by mu; for kinds version modelVer
	modelErr  error           // guarded by mu
	modelVer  int64           // guarded by mu; -1 before the first parse
	modelHash string          // guarded by mu; names the model in cache keys
}

// CheckCache keeps check results across requests (internal/readcache
// implements it in memory and, optionally, Redis). A key names one
// result forever, so entries are never invalidated; the cache may drop
// any of them at any time.
type CheckCache interface {
	// Get returns the values of keys, nil for each it does not hold.
	Get(ctx context.Context, keys []string) [][]byte
	// Put stores vals[i] under keys[i].
	Put(ctx context.Context, keys []string, vals [][]byte)
}

// Config holds what a Service needs.
type Config struct {
	Store     Store
	Kinds     *kind.Registry
	Freshness *freshness.Codec
	// Cache keeps check results across requests; nil keeps none.
	Cache CheckCache
	// NoCache turns the cross-request check cache off even when Cache is
	// set.
	NoCache bool
}

// NewService returns a Service.
func NewService(c Config) *Service {
	s := &Service{store: c.Store, kinds: c.Kinds, freshness: c.Freshness, modelVer: -1}
	if !c.NoCache {
		s.cache = c.Cache
	}
	return s
}

// Model returns the relationship model of the live kinds document. It
// returns fault.FailedPrecondition when the document's relations do not
// form a valid model.
func (s *Service) Model() (*relation.Model, int64, error) {
	m, ver, _, err := s.modelOf()
	return m, ver, err
}

// modelOf is Model with a digest of the relations that make the model,
// which names it in cache keys whatever its version is called.
func (s *Service) modelOf() (*relation.Model, int64, string, error) {
	_, ver := s.kinds.Current()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ver != s.modelVer {
		set, v := s.kinds.Current()
		rels := map[string]string{}
		for _, name := range set.Names() {
			k, _ := set.Kind(name)
			rels[name] = k.Relations()
		}
		s.model, s.modelErr = relation.ParseKindRelations(rels)
		s.modelHash = digest(set.Names(), rels)
		if s.modelErr != nil {
			// The server's kinds document is at fault, not the request.
			s.modelErr = &fault.Error{Op: "authz.Model", Kind: fault.FailedPrecondition,
				Msg: "the relations of the live kinds document do not form a valid model", Err: s.modelErr}
		}
		s.modelVer = v
	}
	return s.model, s.modelVer, s.modelHash, s.modelErr
}

// digest returns a short hash of the relations of the kinds in names.
func digest(names []string, rels map[string]string) string {
	h := sha256.New()
	for _, name := range names {
		writeField(h, name)
		writeField(h, rels[name])
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// writeField writes s to w after its length, so that fields written in
// turn never run together.
func writeField(w io.Writer, s string) {
	io.WriteString(w, strconv.Itoa(len(s))+":"+s)
}

// ParseTuples parses and validates tuples against the live model; field
// names the request field for violations ("writes", "relationships", …).
func (s *Service) ParseTuples(field string, raw [][3]string) ([]relation.Tuple, error) {
	const op = "authz.ParseTuples"
	m, _, err := s.Model()
	if err != nil {
		return nil, err
	}
	var vs []fault.Violation
	out := make([]relation.Tuple, 0, len(raw))
	for i, r := range raw {
		t, err := relation.NewTuple(r[0], r[1], r[2])
		if err == nil {
			err = m.ValidateTuple(t)
		}
		if err != nil {
			msg, _ := fault.PublicOf(err)
			vs = append(vs, fault.Violation{Field: field + "[" + itoa(i) + "]", Reason: msg})
			continue
		}
		out = append(out, t)
	}
	if len(vs) > 0 {
		return nil, fault.Invalidf(op, vs, "invalid relationships")
	}
	return out, nil
}

// Write applies a batch atomically and returns the freshness token of the
// new revision.
func (s *Service) Write(ctx context.Context, w Write) (string, int64, error) {
	const op = "authz.Write"
	if len(w.Writes)+len(w.Deletes) == 0 {
		return "", 0, fault.Invalidf(op, []fault.Violation{{Field: "writes", Reason: "nothing to write or delete"}}, "empty write")
	}
	if len(w.Writes)+len(w.Deletes) > MaxTuplesPerWrite {
		return "", 0, fault.Invalidf(op, []fault.Violation{{Field: "writes", Reason: "at most " + itoa(MaxTuplesPerWrite) + " tuples per write"}}, "too many tuples")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	w.Events, w.Audit = nil, nil
	record := func(e outbox.Event) {
		w.Events = append(w.Events, e)
		w.Audit = append(w.Audit, audit.Entry{ID: ids.New("aud"), Type: e.Type, Time: now, Data: e.Data, Actor: audit.ActorFrom(ctx)})
	}
	for _, t := range w.Deletes {
		record(outbox.New("atrium.relationship.deleted", t.Object.String(), now, t.Fields()))
	}
	for _, t := range w.Writes {
		record(outbox.New("atrium.relationship.written", t.Object.String(), now, t.Fields()))
	}
	rev, err := s.store.Write(ctx, w)
	if err != nil {
		return "", 0, fault.Wrap(op, fault.Internal, err)
	}
	return s.Token(rev), rev, nil
}

// Token returns the freshness token of relationship revision rev.
func (s *Service) Token(rev int64) string {
	return s.freshness.Encode(freshness.Token{Revision: rev, Time: time.Now()})
}

// atLeast returns the revision a freshness token asks for (0 for none).
func (s *Service) atLeast(token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	t, err := s.freshness.Decode(token)
	if err != nil {
		return 0, err
	}
	return t.Revision, nil
}

// snapshot runs fn on a snapshot at least as fresh as token.
func (s *Service) snapshot(ctx context.Context, token string, fn func(ctx context.Context, rev int64, r relation.TupleReader) error) (int64, error) {
	want, err := s.atLeast(token)
	if err != nil {
		return 0, err
	}
	var got int64
	err = s.store.Snapshot(ctx, func(ctx context.Context, rev int64, r relation.TupleReader) error {
		got = rev
		if rev < want {
			// Reads go to the primary, which holds every acknowledged
			// write; a token from the future is from another database.
			return fault.E("authz.snapshot", fault.Invalid, "freshness token is ahead of this database")
		}
		return fn(ctx, rev, r)
	})
	return got, err
}

// CheckResult is the answer to one check.
type CheckResult struct {
	Allowed bool
	Err     error
}

// Check reports whether req.Subject has req.Relation to req.Object, at a
// snapshot at least as fresh as token, and returns the revision it was
// evaluated at.
func (s *Service) Check(ctx context.Context, req relation.CheckRequest, token string) (bool, int64, error) {
	res, rev, err := s.BatchCheck(ctx, []relation.CheckRequest{req}, token)
	if err != nil {
		return false, 0, err
	}
	return res[0].Allowed, rev, res[0].Err
}

// BatchCheck runs several checks on one snapshot.
func (s *Service) BatchCheck(ctx context.Context, reqs []relation.CheckRequest, token string) ([]CheckResult, int64, error) {
	const op = "authz.Check"
	m, _, model, err := s.modelOf()
	if err != nil {
		return nil, 0, err
	}
	if len(reqs) > relation.MaxBatch {
		return nil, 0, fault.Invalidf(op, []fault.Violation{{Field: "checks", Reason: "at most " + itoa(relation.MaxBatch)}}, "too many checks")
	}
	out := make([]CheckResult, len(reqs))
	// Results found are stored after the snapshot ends, so that it does
	// not hold its connection for the cache's write. The lookup is made
	// inside it, where the revision is known: with Redis, a snapshot
	// holds its connection for that one round trip.
	var putKeys []string
	var putVals [][]byte
	rev, err := s.snapshot(ctx, token, func(ctx context.Context, rev int64, r relation.TupleReader) error {
		putKeys, putVals = nil, nil
		keys := s.cacheKeys(reqs, model, rev)
		var cached [][]byte
		if s.cache != nil {
			cached = s.cache.Get(ctx, keys)
		}
		var todo []relation.CheckRequest
		var idx []int
		for i, req := range reqs {
			if keys[i] != "" && cached[i] != nil {
				out[i].Allowed = string(cached[i]) == "1"
				continue
			}
			todo, idx = append(todo, req), append(idx, i)
		}
		if len(todo) == 0 {
			return nil
		}
		res, err := relation.BatchCheck(ctx, m, r, todo)
		if err != nil {
			return err
		}
		for j, cr := range res {
			i := idx[j]
			out[i] = CheckResult{Allowed: cr.Allowed, Err: cr.Err}
			if cr.Err == nil && keys[i] != "" {
				putKeys, putVals = append(putKeys, keys[i]), append(putVals, allowedValue[cr.Allowed])
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fault.Wrap(op, fault.Internal, err)
	}
	if len(putKeys) > 0 {
		s.cache.Put(ctx, putKeys, putVals)
	}
	return out, rev, nil
}

// allowedValue is how a check result is cached.
var allowedValue = map[bool][]byte{false: []byte("0"), true: []byte("1")}

// cacheKeys returns the cache key of each request at model and rev, ""
// for one whose result is not cached (contextual tuples or a depth of its
// own make it the request's alone), or every one when there is no cache.
func (s *Service) cacheKeys(reqs []relation.CheckRequest, model string, rev int64) []string {
	keys := make([]string, len(reqs))
	if s.cache == nil {
		return keys
	}
	var b strings.Builder
	for i, req := range reqs {
		if len(req.Contextual) > 0 || req.MaxDepth != 0 {
			continue
		}
		b.Reset()
		writeField(&b, model)
		writeField(&b, strconv.FormatInt(rev, 10))
		writeField(&b, req.Subject.String())
		writeField(&b, req.Relation)
		writeField(&b, req.Object.String())
		keys[i] = b.String()
	}
	return keys
}

// errTooManyResults refuses a list query whose answer would be cut short,
// so that a partial list never looks complete.
func errTooManyResults(op string) error {
	return fault.E(op, fault.FailedPrecondition, "more than %d results; narrow the query", MaxListResults)
}

// listContext bounds a list query that has no deadline of its own.
func listContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultListTimeout)
}

// ListObjects returns the IDs of the objects of req.Type to which
// req.Subject has req.Relation, sorted, starting after after, at most limit
// of them, and whether more follow.
func (s *Service) ListObjects(ctx context.Context, req relation.ListObjectsRequest, token, after string, limit int) ([]string, bool, int64, error) {
	req.Limit = MaxListResults + 1
	return list(ctx, s, "authz.ListObjects", token, after, limit, func(id string) string { return id },
		func(ctx context.Context, m *relation.Model, r relation.TupleReader) ([]string, error) {
			return relation.ListObjects(ctx, m, r, req)
		})
}

// ListSubjects returns the subjects of kind req.Filter that have
// req.Relation to req.Object, sorted, paged like ListObjects.
func (s *Service) ListSubjects(ctx context.Context, req relation.ListSubjectsRequest, token, after string, limit int) ([]relation.Subject, bool, int64, error) {
	req.Limit = MaxListResults + 1
	return list(ctx, s, "authz.ListSubjects", token, after, limit, relation.Subject.String,
		func(ctx context.Context, m *relation.Model, r relation.TupleReader) ([]relation.Subject, error) {
			return relation.ListSubjects(ctx, m, r, req)
		})
}

// list runs a list query on one snapshot at least as fresh as token,
// refuses an answer longer than MaxListResults (run asks for one more), and
// returns the page after after.
func list[T any](ctx context.Context, s *Service, op, token, after string, limit int, key func(T) string,
	run func(ctx context.Context, m *relation.Model, r relation.TupleReader) ([]T, error)) ([]T, bool, int64, error) {
	m, _, err := s.Model()
	if err != nil {
		return nil, false, 0, err
	}
	ctx, cancel := listContext(ctx)
	defer cancel()
	var all []T
	rev, err := s.snapshot(ctx, token, func(ctx context.Context, rev int64, r relation.TupleReader) (err error) {
		all, err = run(ctx, m, r)
		return err
	})
	if err == nil && len(all) > MaxListResults {
		err = errTooManyResults(op)
	}
	if err != nil {
		return nil, false, 0, fault.Wrap(op, fault.Internal, err)
	}
	page, more := pageAfter(all, after, limit, key)
	return page, more, rev, nil
}

// Expand returns the userset tree of req.Object#req.Relation.
func (s *Service) Expand(ctx context.Context, req relation.ExpandRequest, token string) (*relation.Tree, int64, error) {
	m, _, err := s.Model()
	if err != nil {
		return nil, 0, err
	}
	var tree *relation.Tree
	rev, err := s.snapshot(ctx, token, func(ctx context.Context, rev int64, r relation.TupleReader) (err error) {
		tree, err = relation.Expand(ctx, m, r, req)
		return err
	})
	if err != nil {
		return nil, 0, fault.Wrap("authz.Expand", fault.Internal, err)
	}
	return tree, rev, nil
}

// Read returns stored tuples matching f, read at a snapshot at least as
// fresh as token. The object type and relation must be in the model.
func (s *Service) Read(ctx context.Context, f Filter, token string) ([]relation.Tuple, int64, error) {
	const op = "authz.Read"
	m, _, err := s.Model()
	if err != nil {
		return nil, 0, err
	}
	td := m.Type(f.ObjectType)
	if td == nil {
		return nil, 0, fault.Invalidf(op, []fault.Violation{{Field: "object", Reason: "unknown type"}}, "unknown object type %q", f.ObjectType)
	}
	if f.Relation != "" && td.Relation(f.Relation) == nil {
		return nil, 0, fault.Invalidf(op, []fault.Violation{{Field: "relation", Reason: "unknown relation"}}, "type %q has no relation %q", f.ObjectType, f.Relation)
	}
	if f.Limit <= 0 || f.Limit > MaxPageSize+1 {
		f.Limit = DefaultPageSize
	}
	want, err := s.atLeast(token)
	if err != nil {
		return nil, 0, err
	}
	ts, rev, err := s.store.Read(ctx, f)
	if err != nil {
		return nil, 0, fault.Wrap(op, fault.Internal, err)
	}
	if rev < want {
		return nil, 0, fault.E(op, fault.Invalid, "freshness token is ahead of this database")
	}
	return ts, rev, nil
}

// pageAfter returns up to limit items of the sorted list all whose key is
// after after, and whether more follow.
func pageAfter[T any](all []T, after string, limit int, key func(T) string) ([]T, bool) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	all = slices.Clone(all)
	slices.SortFunc(all, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	start := 0
	if after != "" {
		for start < len(all) && key(all[start]) <= after {
			start++
		}
	}
	end := min(start+limit, len(all))
	return all[start:end], end < len(all)
}

func itoa(n int) string { return strconv.Itoa(n) }
