// Package kind owns the kinds document: the one YAML or JSON text that
// declares every kind of account Atrium holds (user, org, service, …), with
// its ID prefix, the identifier types it accepts, its schema-validated
// fragments, its lifecycle and its relations.
//
// A document goes through three steps. Parse turns text into a Document and
// refuses unknown fields. Compile checks every rule at once, reporting all
// problems as field violations, compiles each fragment's JSON Schema once,
// and returns an immutable Set. A Registry holds the live Set so that a new
// document can be applied while requests keep reading the old one without
// blocking.
//
// Transitions may carry guards: CEL expressions over the account's
// fragments, compiled and type-checked against the fragment schemas by
// Compile, evaluated by Kind.CheckGuards. This package is the only importer
// of cel-go.
//
// A new document replaces the live one through an Applier: Diff lists the
// changes, Compatible refuses those that stored accounts still depend on
// (counting them through the Usage the store implements), and the History
// keeps every applied version with who applied it and its diff.
//
// Relations are kept as text here; the relationship engine parses and
// type-checks them through CompileOptions.CheckRelations.
package kind

import "slices"

// Sensitivity classifies the data of a fragment: how it is stored and
// whether it may ever be logged.
type Sensitivity string

// The sensitivity classes of a fragment. PII and Secret fragments are
// encrypted at rest and never logged.
const (
	Public   Sensitivity = "public"
	Internal Sensitivity = "internal"
	PII      Sensitivity = "pii"
	Secret   Sensitivity = "secret"
)

// sensitivities lists the valid classes, in order of increasing care.
var sensitivities = []Sensitivity{Public, Internal, PII, Secret}

// Valid reports whether s is one of the four sensitivity classes.
func (s Sensitivity) Valid() bool { return slices.Contains(sensitivities, s) }

// Encrypted reports whether fragments of class s are encrypted at rest (and
// never logged): true for PII and Secret.
func (s Sensitivity) Encrypted() bool { return s == PII || s == Secret }

// IdentifierTypes lists the identifier types a kind may accept. Each type has
// a normaliser elsewhere; a kind can only name types from this list.
var IdentifierTypes = []string{"email", "phone", "username", "wallet", "ens"}

// Document is the kinds document as written: a map from kind name to its
// declaration. It is the input of Compile and can be re-serialised with
// Marshal.
type Document struct {
	Kinds map[string]KindSpec `json:"kinds" yaml:"kinds"`
}

// KindSpec declares one kind.
type KindSpec struct {
	// IDPrefix prefixes the IDs of accounts of this kind ("org" gives
	// "org_01JD…"). It must satisfy ids.ValidPrefix and be unique.
	IDPrefix string `json:"id_prefix" yaml:"id_prefix"`
	// Identifiers lists the identifier types accounts of this kind may hold,
	// a subset of IdentifierTypes.
	Identifiers []string `json:"identifiers,omitempty" yaml:"identifiers,omitempty"`
	// Fragments maps a fragment name to its declaration.
	Fragments map[string]FragmentSpec `json:"fragments,omitempty" yaml:"fragments,omitempty"`
	// Lifecycle declares the states and the named transitions between them.
	Lifecycle LifecycleSpec `json:"lifecycle" yaml:"lifecycle"`
	// Relations is the authorization model of the kind in the OpenFGA
	// modeling language (schema 1.1), as text.
	Relations string `json:"relations,omitempty" yaml:"relations,omitempty"`
	// SelfService allows anyone to register an account of this kind
	// (POST /v1/auth/register) with one of its identifiers and a password.
	SelfService bool `json:"self_service,omitempty" yaml:"self_service,omitempty"`
	// MFARequired enforces a second factor on the kind's accounts: their
	// passwords may be as short as 8 code points instead of 15, and a
	// login without an enrolled second factor gets a session good only
	// for enrolling one.
	MFARequired bool `json:"mfa_required,omitempty" yaml:"mfa_required,omitempty"`
}

// FragmentSpec declares one fragment of a kind.
type FragmentSpec struct {
	// Sensitivity is required: no default, so that nobody stores personal
	// data unencrypted by omission.
	Sensitivity Sensitivity `json:"sensitivity" yaml:"sensitivity"`
	// Schema is a JSON Schema (2020-12) object schema, as decoded from YAML
	// or JSON.
	Schema any `json:"schema" yaml:"schema"`
}

// LifecycleSpec declares the lifecycle of a kind. Its states are the initial
// state and every state named by a transition.
type LifecycleSpec struct {
	Initial     string                    `json:"initial" yaml:"initial"`
	Transitions map[string]TransitionSpec `json:"transitions,omitempty" yaml:"transitions,omitempty"`
}

// TransitionSpec declares one named transition: the states it may start
// from, the state it leads to, and the guards that must hold for it to
// apply.
type TransitionSpec struct {
	From []string `json:"from" yaml:"from"`
	To   string   `json:"to" yaml:"to"`
	// Guards maps a guard's name to a CEL expression over the account's
	// fragments and state, such as "fragments.kyc.level >= 1". Every guard
	// must evaluate to true, inside the transaction that applies the
	// transition.
	Guards map[string]string `json:"guards,omitempty" yaml:"guards,omitempty"`
}
