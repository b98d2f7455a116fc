package account_test

import (
	"context"
	"testing"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/testenv"
)

// swappingStore makes a new kinds document live each time a transaction
// starts, as an apply on another replica might in the middle of a request.
type swappingStore struct {
	account.Store
	reg  *kind.Registry
	next *kind.Set
}

func (s swappingStore) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	s.reg.Advance(s.next, 2)
	return s.Store.Update(ctx, fn)
}

func (s swappingStore) View(ctx context.Context, fn func(context.Context, account.Reader) error) error {
	s.reg.Advance(s.next, 2)
	return s.Store.View(ctx, fn)
}

// TestRequestKeepsItsDocument checks that a request finishes under the
// kinds document it started with, even when a new one goes live while it
// runs, and that the next request gets the new one.
func TestRequestKeepsItsDocument(t *testing.T) {
	db := testenv.OpenDB(t, testenv.SQLiteURL(t))
	old, err := kind.Load(kind.Builtin(), kind.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := old.Document()
	delete(d.Kinds, "org")
	next, err := kind.Compile(d, kind.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := envelope.GenerateKey("test1")
	keys, _ := envelope.NewKeyring([]envelope.Key{k})
	codec, _ := freshness.NewCodec(make([]byte, 32))
	reg := kind.NewRegistry(old, 1)
	svc := account.NewService(account.Config{Store: swappingStore{db.Accounts(), reg, next}, Kinds: reg, Keys: keys, Freshness: codec})

	ctx := context.Background()
	a, err := svc.Create(ctx, account.CreateRequest{Kind: "org", Fragments: map[string]map[string]any{"profile": {"name": "Acme"}}})
	if err != nil {
		t.Fatalf("Create under the old document: %v", err)
	}
	if _, v := reg.Current(); v != 2 {
		t.Fatalf("the new document did not go live during the request (version %d)", v)
	}
	reg.Swap(old, 1)
	if got, err := svc.Transition(ctx, a.ID, "suspend", ""); err != nil || got.State != "suspended" {
		t.Errorf("Transition under the old document = %v, %v; want suspended", got, err)
	}
	if _, err := svc.Transition(ctx, a.ID, "reinstate", ""); !fault.Is(err, fault.Invalid) {
		t.Errorf("Transition under the new document, which lacks kind org = %v, want Invalid", err)
	}
}
