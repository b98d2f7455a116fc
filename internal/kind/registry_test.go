package kind

import (
	"sync"
	"testing"
)

func TestRegistryZero(t *testing.T) {
	var r Registry
	if s, v := r.Current(); s != nil || v != 0 {
		t.Errorf("zero Registry Current() = %v, %d; want nil, 0", s, v)
	}
}

// TestRegistryConcurrent swaps two Sets while readers check that every
// Set they see comes with its own version. Run with -race.
func TestRegistryConcurrent(t *testing.T) {
	odd := loadBuiltin(t)
	even, err := Load([]byte(orgLifecycle("{initial: active}")), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(odd, 1)
	const swaps = 2000
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			last := int64(0)
			for last < swaps {
				s, v := r.Current()
				if want := map[bool]*Set{true: even, false: odd}[v%2 == 0]; s != want {
					t.Errorf("Current() = set for version %d does not match", v)
					return
				}
				if v < last {
					t.Errorf("Current() version went back from %d to %d", last, v)
					return
				}
				last = v
				if _, ok := s.Kind("org"); !ok {
					t.Error("Current() set has no org kind")
					return
				}
			}
		})
	}
	for v := int64(2); v <= swaps; v++ {
		s := odd
		if v%2 == 0 {
			s = even
		}
		r.Swap(s, v)
	}
	wg.Wait()
	if s, v := r.Current(); s != even || v != swaps {
		t.Errorf("Current() = %p, %d; want %p, %d", s, v, even, swaps)
	}
}
