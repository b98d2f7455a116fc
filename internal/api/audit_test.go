package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/audit"
)

// fakeSecurityLog keeps appended records in memory. The real log is the
// database's audit chain, which this package's internal tests cannot
// import (it would import this package back through the app).
type fakeSecurityLog struct {
	mu  sync.Mutex
	got []audit.Entry
}

func (l *fakeSecurityLog) Append(_ context.Context, e audit.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, e)
	return nil
}

func (l *fakeSecurityLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

// TestFailureLogFlood floods the record of refused credentials from
// rotating IPv6 addresses and from many networks, and shows that the audit
// chain grows by one record per /64 a minute and by at most
// maxFailureRecords a minute in all (R-47: audit every failure without
// letting unauthenticated clients grow the chain at will).
func TestFailureLogFlood(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	log := &fakeSecurityLog{}
	f := &failureLog{log: log, now: func() time.Time { return now }, last: map[string]time.Time{}}
	fail := func(addr string) {
		r := httptest.NewRequest("GET", "/v1/accounts", nil)
		r.RemoteAddr = addr
		f.record(httptest.NewRecorder(), r, "missing or invalid API key")
	}
	// One subscriber rotating through its /64: one record.
	for i := range 1000 {
		fail(fmt.Sprintf("[2001:db8:aa:1:%x::%x]:443", i, i))
	}
	if n := log.count(); n != 1 {
		t.Fatalf("1000 failures from one /64 made %d records, want 1", n)
	}
	// Many networks at once: the global cap holds.
	for i := range 500 {
		fail(fmt.Sprintf("[2001:db8:%x:2::1]:443", i))
	}
	if n := log.count(); n != maxFailureRecords {
		t.Fatalf("failures from 500 networks made %d records in a minute, want the cap %d", n, maxFailureRecords)
	}
	// A minute later the next record counts what the cap dropped.
	now = now.Add(failureEvery)
	fail("192.0.2.9:1234")
	if n := log.count(); n != maxFailureRecords+1 {
		t.Fatalf("a failure a minute later made %d records in all, want %d", n, maxFailureRecords+1)
	}
	last := log.got[len(log.got)-1]
	if want := fmt.Sprintf(`"suppressed":%d`, 500-(maxFailureRecords-1)); !strings.Contains(string(last.Data), want) {
		t.Errorf("record after the flood = %s, want %s", last.Data, want)
	}
	// The /64 recorded first may be recorded again, now.
	fail("[2001:db8:aa:1::7]:443")
	if n := log.count(); n != maxFailureRecords+2 {
		t.Errorf("the first /64 a minute later made %d records in all, want %d", n, maxFailureRecords+2)
	}
}
