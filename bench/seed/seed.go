// Package seed fills a new database with a benchmark's account pool before
// the server under test starts, at thousands of accounts a second instead
// of the hundreds that POST /v1/accounts manages on a small machine.
//
// It goes through the real write path: account.Service.Create validates,
// encodes and seals each account, and writes its record, fragments,
// identifiers, outbox event and audit record exactly as for an API request
// (the audit actor is "system", as for anything done outside a request).
// Only the transactions differ: a Store in front of the database hands the
// writes of many creates to one writer, which commits them in large
// transactions. Accounts are prepared on every CPU at once; the writes run
// one at a time, as SQLite requires anyway.
package seed

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/sqlstore"
)

// Org is one account of a benchmark's pool, in the JSON of a
// CreateAccount request: an org with a profile and a username.
type Org struct {
	Kind        string       `json:"kind"`
	Fragments   orgFragments `json:"fragments"`
	Identifiers []identifier `json:"identifiers"`
}

type orgFragments struct {
	Profile profile `json:"profile"`
}

type profile struct {
	Name string `json:"name"`
}

type identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// NewOrg returns account i of a pool whose usernames are prefix followed
// by the index: a function of its arguments only, so that the same pool is
// made every time.
func NewOrg(prefix string, i int) Org {
	return Org{
		Kind:        "org",
		Fragments:   orgFragments{Profile: profile{Name: "Acme " + strconv.Itoa(i)}},
		Identifiers: []identifier{{Type: "username", Value: prefix + strconv.Itoa(i)}},
	}
}

// JSON returns o as the body of a CreateAccount request.
func (o Org) JSON() []byte {
	b, _ := json.Marshal(o) // strings and structs only: never fails
	return b
}

// request returns o as the account service takes it.
func (o Org) request() account.CreateRequest {
	req := account.CreateRequest{
		Kind:      o.Kind,
		Fragments: map[string]map[string]any{"profile": {"name": o.Fragments.Profile.Name}},
	}
	for _, id := range o.Identifiers {
		req.Identifiers = append(req.Identifiers, account.IdentifierInput{Type: id.Type, Value: id.Value})
	}
	return req
}

// Options say what to seed.
type Options struct {
	// Database is a new or empty database: sqlite://PATH or postgres://….
	Database string
	// Keys are the key-encryption keys the server will be started with;
	// sealed fragments are readable only with them.
	Keys *envelope.Keyring
	// Accounts is the size of the pool; Prefix starts its usernames, which
	// are Prefix0 … Prefix(Accounts-1).
	Accounts int
	Prefix   string
	// Batch is the number of accounts committed per transaction (5,000
	// when zero).
	Batch int
	// Workers is the number of goroutines preparing accounts (GOMAXPROCS
	// when zero).
	Workers int
}

// Limits and defaults of Options.
const (
	MaxAccounts  = 10_000_000
	DefaultBatch = 5000
	MaxBatch     = 100_000
)

// What the server's first start writes, written alike.
const (
	freshnessKey   = "freshness_key" // the setting that signs freshness tokens
	kindsAppliedBy = "serve"         // who installed the built-in kinds
)

// Pool migrates the database, installs the built-in kinds as the server
// does on its first start, and creates the pool's accounts. It returns
// their IDs, ID i for NewOrg(o.Prefix, i). The database then holds what
// the server itself would have written, except the bootstrap admin API
// key, which the server makes when it starts. A failed Pool leaves the
// database partly filled: start again on a new one.
func Pool(ctx context.Context, o Options) ([]string, error) {
	const op = "seed.Pool"
	switch {
	case o.Accounts < 1 || o.Accounts > MaxAccounts:
		return nil, fault.E(op, fault.Invalid, "accounts must be between 1 and %d", MaxAccounts)
	case o.Batch < 0 || o.Batch > MaxBatch || o.Workers < 0:
		return nil, fault.E(op, fault.Invalid, "batch must be between 0 and %d, workers at least 0", MaxBatch)
	case o.Keys == nil:
		return nil, fault.E(op, fault.Invalid, "the server's encryption keys are required")
	}
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	db, err := sqlstore.Open(ctx, o.Database)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	b := &batcher{Store: db.Accounts(), jobs: make(chan job)}
	svc, err := service(ctx, db, b, o.Keys)
	if err != nil {
		return nil, err
	}
	return create(ctx, b, svc, o)
}

// service prepares db as the server's first start would, and returns an
// account service whose writes go through store.
func service(ctx context.Context, db *sqlstore.DB, store account.Store, keys *envelope.Keyring) (*account.Service, error) {
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	kinds, err := app.InstallKinds(ctx, db, "", kindsAppliedBy, keys)
	if err != nil {
		return nil, err
	}
	secret, err := db.Setting(ctx, freshnessKey, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	codec, err := freshness.NewCodec(secret)
	if err != nil {
		return nil, err
	}
	return account.NewService(account.Config{Store: store, Kinds: kinds, Keys: keys, Freshness: codec}), nil
}

// create creates the pool: o.Workers goroutines call accounts.Create,
// whose writes b commits in transactions of o.Batch.
func create(ctx context.Context, b *batcher, accounts *account.Service, o Options) ([]string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ids := make([]string, o.Accounts)
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.write(ctx, o.Accounts, o.Batch); err != nil {
			cancel(err)
		}
	})
	for range o.Workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < o.Accounts; i = int(next.Add(1) - 1) {
				a, err := accounts.Create(ctx, NewOrg(o.Prefix, i).request())
				if err != nil {
					cancel(err)
					return
				}
				ids[i] = a.ID
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return ids, nil
}

// batcher is an account.Store whose Update hands its function to one
// writer, which runs the functions of many Updates in one transaction.
// Update returns once its function has run, before the commit: a later
// failure of the transaction fails the whole pool instead. Reads go to the
// database.
type batcher struct {
	account.Store
	jobs chan job
}

type job struct {
	fn   func(context.Context, account.Tx) error
	done chan error
}

// Update implements account.Store.
func (b *batcher) Update(ctx context.Context, fn func(context.Context, account.Tx) error) error {
	j := job{fn: fn, done: make(chan error, 1)}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return <-j.done // the writer answers every job it takes
}

// write runs n jobs in transactions of up to batch, and stops at the
// first error. The statements run under a context that is never done:
// the SQLite driver watches a context that can end with a goroutine per
// statement, which costs more than many of the statements here. The end
// of ctx is checked between jobs instead.
func (b *batcher) write(ctx context.Context, n, batch int) error {
	for left := n; left > 0; left -= batch {
		k := min(batch, left)
		err := b.Store.Update(context.WithoutCancel(ctx), func(txCtx context.Context, tx account.Tx) error {
			for range k {
				var j job
				select {
				case j = <-b.jobs:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
				err := j.fn(txCtx, tx)
				j.done <- err
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
