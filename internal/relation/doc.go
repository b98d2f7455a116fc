// Package relation is Atrium's relationship engine in the style of Google
// Zanzibar: an authorization model written in the OpenFGA modeling language
// (schema 1.1), relationship tuples object#relation@subject, and the queries
// Check, BatchCheck, ListObjects, ListSubjects and Expand over them.
//
// The package is pure: it reads tuples through the small TupleReader
// interface it declares and never touches a database or the network. A
// storage adapter implements TupleReader; MemoryTuples is the in-memory
// implementation used by tests and for contextual tuples.
//
// # Semantics
//
// The model language follows OpenFGA schema 1.1: direct type restrictions
// ([user, team#member, user:*]), computed usersets (viewer: editor),
// tuple-to-userset (viewer from parent), "or", "and", "but not" and
// parentheses. Conditions ("with cond", "condition" blocks) and modular
// models are recognised and rejected with ErrUnsupported.
//
// A subject is in object#relation when a derivation exists; a userset
// subject team:t#member is also in team:t#member itself. Tuples that no
// longer match the model's type restrictions (written under an older model)
// are ignored when read. Cycles terminate: a sub-problem that recurs while it
// is being evaluated is "unknown", combined with three-valued (Kleene) logic,
// and an unknown answer is a denial. This is Fitting's fixpoint semantics; it
// equals the usual least-fixpoint answer on models without "but not", and
// it fails closed on paradoxes such as "viewer: [user] but not restricted"
// with restricted containing document:1#viewer.
//
// # Errors
//
// Every error is a *fault.Error. Bad input (malformed text, unknown types or
// relations, tuples that break the model's type restrictions) is
// fault.Invalid, or fault.TooLarge past a size limit; where the cause
// matters it wraps one of ErrUnknownType, ErrUnknownRelation,
// ErrInvalidTuple or ErrUnsupported, so callers can tell them apart with
// errors.Is. Model errors carry violations whose field is the position
// (model, kinds.<type>.relations) or the path type#relation. A query that needs more than MaxDepth nested steps fails with
// fault.FailedPrecondition wrapping ErrDepthExceeded: the request is well
// formed, but the stored graph is too deep to answer it. Reader failures are
// passed through (a reader's *fault.Error keeps its kind; any other error
// becomes fault.Unavailable), and a done context gives fault.Canceled or
// fault.DeadlineExceeded. No error ever yields an "allowed" answer.
package relation
