package kind

import "sync/atomic"

// Registry holds the live Set and its version. It is safe for concurrent
// use; readers never block, and a Swap is seen by every later Current.
type Registry struct {
	cur atomic.Pointer[versioned]
}

// versioned pairs a Set with its version so that both change together.
type versioned struct {
	set     *Set
	version int64
}

// NewRegistry returns a Registry holding s at version.
func NewRegistry(s *Set, version int64) *Registry {
	r := &Registry{}
	r.Swap(s, version)
	return r
}

// Current returns the live Set and its version; nil and 0 for a zero
// Registry that was never given a Set.
func (r *Registry) Current() (*Set, int64) {
	v := r.cur.Load()
	if v == nil {
		return nil, 0
	}
	return v.set, v.version
}

// Swap makes s, at version, the live Set. Callers that apply documents
// from several places order their versions themselves; Swap does not
// compare them.
func (r *Registry) Swap(s *Set, version int64) {
	r.cur.Store(&versioned{set: s, version: version})
}

// Advance makes s, at version, the live Set unless the Registry already
// holds that version or a newer one. It reports whether it swapped. An
// apply and a poller that both advance the Registry so never move it back
// to an older version.
func (r *Registry) Advance(s *Set, version int64) bool {
	next := &versioned{set: s, version: version}
	for {
		cur := r.cur.Load()
		if cur != nil && cur.version >= version {
			return false
		}
		if r.cur.CompareAndSwap(cur, next) {
			return true
		}
	}
}
