package credential

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/throttle"
)

// ENSIdentifier is the identifier type of ENS names.
const ENSIdentifier = "ens"

// DefaultENSTTL is how long a verified ENS name stands before it is
// verified again.
const DefaultENSTTL = 24 * time.Hour

// ErrENSDisagrees is wrapped by the fault.FailedPrecondition error of an
// ENS name whose address is not a wallet of the account, or whose
// address's primary name is another name.
var ErrENSDisagrees = errors.New("the ENS name and its address's primary name do not agree with a wallet of the account")

// ENSResolver resolves ENS names; *ens.Resolver implements it. Address
// and PrimaryName fail with fault.NotFound when there is no record (or the
// primary name does not resolve back), fault.Invalid for a name ENSIP-15
// rejects, and fault.Unavailable when the chain cannot be asked.
type ENSResolver interface {
	Address(ctx context.Context, name string) (chain.Address, error)
	PrimaryName(ctx context.Context, addr chain.Address) (string, error)
}

// ENSRecord is an ENS identifier as stored: a normalised name, the account
// that holds it and when it was last verified.
type ENSRecord struct {
	AccountID, Name string
	VerifyTime      time.Time
}

// ENSStore keeps ENS identifiers. Methods return fault.Unavailable when
// the database fails.
type ENSStore interface {
	// InsertENS adds the ENS identifier c.Value, verified at c.Time, to a
	// live account that holds one of the wallet identifiers wallets. When
	// the account holds the name already it only sets its verify time.
	// It returns fault.AlreadyExists when another account holds the name,
	// fault.FailedPrecondition wrapping ErrENSDisagrees when the account
	// holds none of wallets, and fault.NotFound for no live account.
	InsertENS(ctx context.Context, c IdentifierChange, wallets []string) error
	// DueENS lists up to limit ENS identifiers of live accounts last
	// verified before before, the oldest first.
	DueENS(ctx context.Context, before time.Time, limit int) ([]ENSRecord, error)
	// TouchENS sets the verify time of r to now while it is still
	// r.VerifyTime, and returns fault.Aborted otherwise.
	TouchENS(ctx context.Context, r ENSRecord, now time.Time) error
	// DeleteENS removes r while its verify time is still r.VerifyTime,
	// with c's event and audit record, and returns fault.Aborted
	// otherwise.
	DeleteENS(ctx context.Context, r ENSRecord, c IdentifierChange) error
}

// ENSName is a verified ENS name of an account.
type ENSName struct {
	Name       string
	Address    chain.Address
	VerifyTime time.Time
}

// VerifyENS adds the ENS name to the session's account when forward
// resolution gives an address the account holds as a wallet and that
// address's primary name (reverse resolution) is the name. The name is
// stored normalised, with its verify time, and is verified again every TTL
// by ReverifyENS. The session stays bound to the account and its wallet:
// a name is an attribute, never a way to sign in.
//
// Errors: fault.FailedPrecondition when ENS is not configured, or wrapping
// ErrENSDisagrees; fault.Invalid for a name ENSIP-15 rejects or a kind
// that does not accept ens identifiers; fault.NotFound when the name has no
// address; fault.AlreadyExists when another account holds the name;
// fault.Unavailable when the chain cannot be asked; fault.ResourceExhausted
// when the account verifies too often.
func (s *Service) VerifyENS(ctx context.Context, sess session.Session, name string) (*ENSName, error) {
	const op = "credential.VerifyENS"
	w, err := s.ens(op)
	if err != nil {
		return nil, err
	}
	norm, err := chain.NormalizeENS(name)
	if err != nil {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "name", Reason: "not a valid ENS name (ENSIP-15)"}}, "invalid ENS name")
	}
	kindName, _, err := s.c.Store.AccountState(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	set, _ := s.c.Kinds.Current()
	if k, ok := set.Kind(kindName); !ok || !k.AcceptsIdentifier(ENSIdentifier) {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "name", Reason: "the account's kind does not accept ENS names"}}, "ENS names not accepted")
	}
	if w.Nonces != nil {
		// Each verification costs chain calls: it is limited like nonces.
		subject := throttle.Subject{Client: "ens/" + sess.AccountID}
		if err := w.Nonces.Check(ctx, subject); err != nil {
			return nil, err
		}
		if err := w.Nonces.Fail(ctx, subject); err != nil {
			return nil, err
		}
	}
	addr, err := s.agreeing(ctx, norm)
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	now := s.clock()
	err = w.Store.InsertENS(ctx, IdentifierChange{AccountID: sess.AccountID, Value: norm, Time: now,
		Record: func(kind string, version int64) (outbox.Event, audit.Entry, error) {
			return recordOf(ctx, outbox.New("atrium.account.identifier_added", sess.AccountID, now,
				map[string]any{"identifier_type": ENSIdentifier, "kind": kind, "version": version}))
		}}, walletKeys(w.ENSChainID, addr))
	if err != nil {
		return nil, err
	}
	return &ENSName{Name: norm, Address: addr, VerifyTime: now}, nil
}

// agreeing resolves norm forward and its address in reverse, and returns
// the address when the primary name is norm.
func (s *Service) agreeing(ctx context.Context, norm string) (chain.Address, error) {
	w := s.c.Wallets
	addr, err := w.ENS.Address(ctx, norm)
	if err != nil {
		return chain.Address{}, err
	}
	primary, err := w.ENS.PrimaryName(ctx, addr)
	if fault.Is(err, fault.NotFound) || (err == nil && primary != norm) {
		return chain.Address{}, &fault.Error{Kind: fault.FailedPrecondition, Msg: "the ENS name is not the primary name of its address", Err: ErrENSDisagrees}
	}
	return addr, err
}

// walletKeys are the wallet identifiers that hold addr on the ENS chain:
// its key, valid on every chain, or a contract wallet proven there.
func walletKeys(chainID uint64, addr chain.Address) []string {
	return []string{
		chain.AccountID{Address: addr}.Key(chain.KeyControl),
		chain.AccountID{ChainID: chainID, Address: addr}.Key(chain.ContractControl),
	}
}

func (s *Service) ens(op string) (*WalletConfig, error) {
	w, err := s.wallets(op)
	if err != nil {
		return nil, err
	}
	if w.ENS == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "ENS names are not enabled")
	}
	return w, nil
}

// Reasons for removing an ENS identifier that no longer agrees, as the
// atrium.identifier.ens_changed event names them.
const (
	ensNoAddress      = "no_address"       // the name no longer resolves
	ensNotHeld        = "address_not_held" // it resolves to an address the account does not hold
	ensPrimaryDiffers = "primary_differs"  // the address's primary name is another name
	ensUnresolvable   = "unresolvable"     // resolution fails for good (e.g. needs CCIP-Read, now off)
)

// ReverifyENS verifies again up to limit ENS identifiers last verified
// more than ttl ago, oldest first. A name that still agrees gets a new
// verify time. One that no longer does is removed, in one transaction with
// an atrium.identifier.ens_changed event naming the reason and its audit
// record. A name the chain cannot be asked about now (fault.Unavailable,
// or the context ending) is kept and tried again on the next round. It
// returns how many names it settled (verified again or removed), so that
// a caller repeats while a full batch was settled.
func (s *Service) ReverifyENS(ctx context.Context, ttl time.Duration, limit int) (int, error) {
	w, err := s.ens("credential.ReverifyENS")
	if err != nil {
		return 0, err
	}
	due, err := w.Store.DueENS(ctx, s.clock().Add(-ttl), limit)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, r := range due {
		ok, err := s.reverify(ctx, w, r)
		if err != nil {
			return settled, err
		}
		if ok {
			settled++
		}
	}
	return settled, nil
}

// reverify checks one name and reports whether it was settled. Only a
// database failure is returned.
func (s *Service) reverify(ctx context.Context, w *WalletConfig, r ENSRecord) (bool, error) {
	addr, err := s.agreeing(ctx, r.Name)
	reason := ""
	switch {
	case fault.Is(err, fault.Unavailable) || fault.Is(err, fault.Canceled) || fault.Is(err, fault.DeadlineExceeded):
		return false, nil
	case errors.Is(err, ErrENSDisagrees):
		reason = ensPrimaryDiffers
	case fault.Is(err, fault.NotFound):
		reason = ensNoAddress
	case err != nil:
		reason = ensUnresolvable
	default:
		held, err := w.Store.Wallets(ctx, r.AccountID)
		if err != nil {
			return false, err
		}
		reason = ensNotHeld
		for _, h := range held {
			if slices.Contains(walletKeys(w.ENSChainID, addr), h.Value) {
				reason = ""
			}
		}
	}
	now := s.clock()
	if reason == "" {
		err = w.Store.TouchENS(ctx, r, now)
	} else {
		err = w.Store.DeleteENS(ctx, r, IdentifierChange{AccountID: r.AccountID, Value: r.Name, Time: now,
			Record: func(kind string, version int64) (outbox.Event, audit.Entry, error) {
				return recordOf(ctx, outbox.New("atrium.identifier.ens_changed", r.AccountID, now,
					map[string]any{"identifier_type": ENSIdentifier, "change": "removed", "reason": reason, "kind": kind, "version": version}))
			}})
	}
	if fault.Is(err, fault.Aborted) {
		return true, nil // verified or removed meanwhile, by the owner or another replica
	}
	return err == nil, err
}

// ENSEnabled reports whether ENS names are configured.
func (s *Service) ENSEnabled() bool { _, err := s.ens(""); return err == nil }
