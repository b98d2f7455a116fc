package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/atriumid/atrium/internal/outbox"
)

// Store keeps subscriptions and deliveries. Methods return
// fault.Unavailable when the database fails.
type Store interface {
	// Webhooks returns the live subscriptions.
	Webhooks(ctx context.Context) ([]Subscription, error)
	// Enqueue stores new deliveries; one that exists already (the same
	// webhook and event position) is left as it is.
	Enqueue(ctx context.Context, ds []Delivery) error
	// Due returns up to limit pending deliveries of live subscriptions
	// whose next attempt is due at now, with their subscriptions.
	Due(ctx context.Context, now time.Time, limit int) ([]Job, error)
	// Claim moves d's next attempt to until if nobody else has since d was
	// read, and reports whether it did: the claimant makes the attempt.
	Claim(ctx context.Context, d Delivery, until time.Time) (bool, error)
	// Finish stores d, the outcome of an attempt, if the claim that ends
	// at claimed still holds (the delivery is pending and due at claimed),
	// and reports whether it did. A claim that ran out may have been taken
	// by another sender, whose outcome stands.
	Finish(ctx context.Context, d Delivery, claimed time.Time) (bool, error)
}

// Job is a due delivery with its subscription.
type Job struct {
	Delivery
	Sub Subscription
}

// FanOut turns each event into one pending delivery per subscription that
// matches its type. It is the outbox.Publisher of the webhooks relay, so
// events reach it at least once, in order; Enqueue ignores repeats.
type FanOut struct {
	Store  Store
	Source string           // CloudEvents source
	Now    func() time.Time // default time.Now
}

// Publish implements outbox.Publisher.
func (f *FanOut) Publish(ctx context.Context, e outbox.Record) error {
	subs, err := f.Store.Webhooks(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	var ds []Delivery
	for _, s := range subs {
		// A subscription receives the events that follow its creation.
		if !s.Matches(e.Type) || e.Time.Before(s.CreateTime) {
			continue
		}
		d, err := NewDelivery(s.ID, e, f.Source, now)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil
	}
	return f.Store.Enqueue(ctx, ds)
}

// Sender makes the attempts of due deliveries. Any number of Senders may
// share a Store: Claim gives each attempt to one of them.
type Sender struct {
	Store  Store
	Client *http.Client // from Guard.Client
	// Secrets opens the stored signing secrets; nil when they are stored
	// in the clear, as only tests do.
	Secrets *Sealer
	Now     func() time.Time // default time.Now
	Poll    time.Duration    // pause when nothing is due; default 1 s
	Batch   int              // deliveries per step; default 32
	Logger  *slog.Logger     // default slog.Default()
	// Jitter returns a random duration in [0, n); default math/rand.
	Jitter func(n int64) int64
	// Attempted, when set, is told the outcome of every stored attempt that
	// counts: the delivery as stored after it (Delivered, Pending for a
	// failure to be retried, or Dead). Metrics count failures with it.
	Attempted func(d Delivery)
}

func (s *Sender) defaults() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Poll <= 0 {
		s.Poll = time.Second
	}
	if s.Batch <= 0 {
		s.Batch = 32
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Jitter == nil {
		s.Jitter = rand.Int64N
	}
}

// Run makes attempts until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	s.defaults()
	for ctx.Err() == nil {
		n, err := s.Step(ctx)
		if err != nil && ctx.Err() == nil {
			s.Logger.Warn("webhook delivery step failed", "err", err)
		}
		if n == 0 || err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(s.Poll):
			}
		}
	}
}

// Step makes the attempts due now, a few at a time, and returns how many
// it made.
//
// A delivery is claimed only once a slot to attempt it is free, so its
// claim (twice the longest attempt) cannot run out while it waits. An
// attempt cut short because ctx ended is not counted: the delivery is
// left as it was, due again at once.
func (s *Sender) Step(ctx context.Context) (int, error) {
	s.defaults()
	jobs, err := s.Store.Due(ctx, s.Now(), s.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxConcurrent)
	made := 0
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return made, nil
		}
		claimed := s.Now().Add(2 * deliverTimeout)
		ok, err := s.Store.Claim(ctx, j.Delivery, claimed)
		if err != nil || !ok {
			<-sem
			if err != nil {
				return made, err
			}
			continue
		}
		made++
		wg.Go(func() {
			defer func() { <-sem }()
			d, counted := s.attempt(ctx, j)
			if !counted {
				d = j.Delivery // stopped: as it was, due now
				d.NextAttempt = s.Now()
			}
			stored, err := s.Store.Finish(context.WithoutCancel(ctx), d, claimed)
			switch {
			case err != nil:
				s.Logger.Warn("storing a webhook attempt failed", "webhook", d.WebhookID, "event", d.EventID, "err", err)
			case !stored:
				s.Logger.Warn("a webhook attempt outlived its claim; its outcome is dropped", "webhook", d.WebhookID, "event", d.EventID)
			case counted && s.Attempted != nil:
				s.Attempted(d) // only outcomes that stand are counted
			}
		})
	}
	return made, nil
}

// maxConcurrent is how many attempts one Sender makes at once.
const maxConcurrent = 4

// attempt posts j's payload once and returns the delivery's next state,
// and false when ctx ended during the attempt, which then does not count.
func (s *Sender) attempt(ctx context.Context, j Job) (Delivery, bool) {
	d := j.Delivery
	now := s.Now()
	status, reason := s.post(ctx, j, now)
	if reason != "" && ctx.Err() != nil {
		return d, false
	}
	d.Attempts++
	d.UpdateTime = now
	d.LastStatus, d.LastError = status, reason
	switch {
	case reason == "":
		d.State = Delivered
	case d.Attempts >= MaxAttempts:
		d.State = Dead
	default:
		d.State, d.NextAttempt = Pending, now.Add(Backoff(d.Attempts, s.Jitter))
	}
	return d, true
}

// post sends one signed request and returns the response status and, on
// failure, a reason that holds no response body.
func (s *Sender) post(ctx context.Context, j Job, now time.Time) (int, string) {
	secret := j.Sub.Secret
	if s.Secrets != nil {
		var err error
		if secret, err = s.Secrets.Open(j.Sub.ID, secret); err != nil {
			s.Logger.Error("a webhook secret does not open", "webhook", j.Sub.ID, "err", err)
			return 0, "signing secret unavailable"
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Sub.URL, bytes.NewReader(j.Payload))
	if err != nil {
		return 0, "invalid URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Atrium-Webhooks/1")
	req.Header.Set("webhook-id", j.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(secret, j.EventID, now, j.Payload))
	res, err := s.Client.Do(req)
	if err != nil {
		return 0, "no response: " + errorClass(err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, "HTTP " + strconv.Itoa(res.StatusCode)
	}
	return res.StatusCode, ""
}

// errorClass names a transport failure without echoing addresses or data.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errForbiddenAddress):
		return "target address forbidden"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return "connection failed"
}
