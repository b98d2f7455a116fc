package fault

import (
	"context"
	"fmt"
	"testing"
)

// A context's end is the caller's doing: wrapped as anything, it stays
// Canceled or DeadlineExceeded, so that it never answers as a 500.
func TestWrapKeepsContextEnds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{context.Canceled, Canceled},
		{fmt.Errorf("reading: %w", context.DeadlineExceeded), DeadlineExceeded},
		{fmt.Errorf("disk full"), Internal},
	} {
		if got := KindOf(Wrap("op", Internal, tc.err)); got != tc.want {
			t.Errorf("KindOf(Wrap(Internal, %v)) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
