package app

import (
	"github.com/atriumid/atrium/internal/admission"
	"github.com/atriumid/atrium/internal/config"
)

// newLimiter returns the admission limiter that cfg asks for, or nil when
// load shedding is off.
func newLimiter(cfg config.Config) *admission.Limiter {
	if cfg.Concurrency.Max == 0 {
		return nil
	}
	queue := cfg.ShedQueue
	if queue == 0 {
		queue = -1 // no queue: admission.Config reads zero as the default
	}
	return admission.New(admission.Config{
		InitialLimit: cfg.Concurrency.Initial, MinLimit: cfg.Concurrency.Min, MaxLimit: cfg.Concurrency.Max,
		QueueSize: queue,
	})
}

// Admission returns the limiter in front of the API, for its counters
// (Stats); nil when load shedding is off.
func (a *App) Admission() *admission.Limiter { return a.admission }
