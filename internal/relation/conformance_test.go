package relation_test

import (
	"context"
	"testing"

	"github.com/atriumid/atrium/internal/relation"
	"github.com/atriumid/atrium/internal/relation/relationtest"
)

// memStore adapts MemoryTuples to the conformance suite.
type memStore struct{ *relation.MemoryTuples }

func (m memStore) Write(_ context.Context, ts ...relation.Tuple) error {
	m.MemoryTuples.Write(ts...)
	return nil
}

func TestOpenFGA(t *testing.T) {
	for _, suite := range relationtest.Suites {
		t.Run(suite, func(t *testing.T) {
			relationtest.RunOpenFGA(t, suite, func(*testing.T) relationtest.Store { return memStore{relation.NewMemoryTuples()} })
		})
	}
}
