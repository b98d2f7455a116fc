package credential

import (
	"context"

	"github.com/atriumid/atrium/internal/throttle"
)

// limitRate counts a request of key against l and refuses it
// (fault.ResourceExhausted) while key is blocked: every request counts as
// a failure, so the limiter's free allowance is the rate. A nil l allows
// everything.
func limitRate(ctx context.Context, l *throttle.Limiter, key string) error {
	if l == nil {
		return nil
	}
	subject := throttle.Subject{Client: key}
	if err := l.Check(ctx, subject); err != nil {
		return err
	}
	return l.Fail(ctx, subject)
}
