package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/admission"
)

func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         admission.Class
	}{
		{"GET", "/v1/sessions/whoami", admission.Critical},
		{"POST", "/v1/auth/login", admission.Critical},
		{"POST", "/v1/auth/login/mfa", admission.Critical},
		{"POST", "/v1/auth/siwe/nonce", admission.Critical},
		{"POST", "/v1/auth/siwe/login", admission.Critical},
		{"POST", "/atrium.v1.SessionService/WhoAmI", admission.Critical},
		{"POST", "/atrium.v1.AuthService/Login", admission.Critical},
		{"POST", "/atrium.v1.AuthService/LoginMfa", admission.Critical},
		{"POST", "/atrium.v1.WalletService/SiweLogin", admission.Critical},
		{"GET", "/v1/accounts/acc_1", admission.Standard},
		{"POST", "/v1/accounts", admission.Standard},
		{"PATCH", "/v1/accounts/acc_1/fragments/profile", admission.Standard},
		{"GET", "/v1/identifiers/email/a@example.com", admission.Standard},
		{"POST", "/v1/check", admission.Standard},
		{"POST", "/v1/auth/register", admission.Standard},
		{"POST", "/atrium.v1.AccountService/GetAccount", admission.Standard},
		{"POST", "/atrium.v1.RelationService/Check", admission.Standard},
		{"GET", "/v1/accounts", admission.Bulk},
		{"GET", "/v1/sessions", admission.Bulk},
		{"GET", "/v1/audit", admission.Bulk},
		{"GET", "/v1/audit:verify", admission.Bulk},
		{"GET", "/v1/events", admission.Bulk},
		{"PUT", "/v1/kinds", admission.Bulk},
		{"POST", "/v1/webhooks", admission.Bulk},
		{"POST", "/v1/check:batch", admission.Bulk},
		{"POST", "/v1/list-objects", admission.Bulk},
		{"POST", "/v1/relationships:read", admission.Bulk},
		{"DELETE", "/v1/accounts/acc_1/sessions", admission.Bulk},
		{"POST", "/atrium.v1.AccountService/ListAccounts", admission.Bulk},
		{"POST", "/atrium.v1.RelationService/BatchCheck", admission.Bulk},
		{"POST", "/atrium.v1.KindService/PutKinds", admission.Bulk},
		{"POST", "/atrium.v1.AuditService/VerifyAudit", admission.Bulk},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if got := classOf(r); got != tc.want {
			t.Errorf("classOf(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

// blockingServer serves h behind admit with a limit of one request and no
// queue; its first request holds the slot until release is closed.
func blockingServer(t *testing.T, timeout time.Duration) (srv *httptest.Server, hold func(path string), release func()) {
	l := admission.New(admission.Config{InitialLimit: 1, MinLimit: 1, MaxLimit: 1, QueueSize: -1})
	entered, gate := make(chan struct{}), make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hold") != "" {
			close(entered)
			<-gate
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv = httptest.NewUnstartedServer(withClient(admit(l, timeout, next)))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	done := make(chan struct{})
	hold = func(path string) {
		go func() {
			defer close(done)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+path, nil)
			req.Header.Set("X-Hold", "1")
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
		<-entered
	}
	var released bool
	release = func() {
		if !released {
			released = true
			close(gate)
			<-done
		}
	}
	t.Cleanup(release)
	return srv, hold, release
}

// TestShedRESTAnswers503WithRetryAfter: a request over the limit is
// refused at once through the error table, with Retry-After, and the next
// one is admitted once the slot frees.
func TestShedRESTAnswers503WithRetryAfter(t *testing.T) {
	srv, hold, release := blockingServer(t, time.Minute)
	hold("/v1/accounts")
	res, err := http.Get(srv.URL + "/v1/accounts/acc_1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body restError
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("shed body: %v", err)
	}
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" || body.Code != "unavailable" {
		t.Errorf("shed GET = %d, Retry-After %q, code %q; want 503, 1, unavailable", res.StatusCode, res.Header.Get("Retry-After"), body.Code)
	}
	release()
	res, err = http.Get(srv.URL + "/v1/accounts/acc_1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("GET after the slot freed = %d, want 204", res.StatusCode)
	}
}

// TestShedRPCAnswersInProtocol: Connect and gRPC callers get an
// Unavailable error of their own protocol, with Retry-After in its
// metadata.
func TestShedRPCAnswersInProtocol(t *testing.T) {
	srv, hold, _ := blockingServer(t, time.Minute)
	hold("/v1/accounts")
	for name, opts := range map[string][]connect.ClientOption{"connect": nil, "grpc": {connect.WithGRPC()}} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		c := atriumv1connect.NewAccountServiceClient(&http.Client{Transport: tr}, srv.URL, opts...)
		_, err := c.GetAccount(context.Background(), connect.NewRequest(&atriumv1.GetAccountRequest{Id: "acc_1"}))
		ce, ok := errors.AsType[*connect.Error](err)
		if !ok || ce.Code() != connect.CodeUnavailable || ce.Meta().Get("Retry-After") != "1" {
			t.Errorf("%s: shed GetAccount = %v, want Unavailable with Retry-After 1", name, err)
		}
	}
}

// TestRequestDeadline: the handler's context carries the request budget,
// which database calls inherit; the event stream is exempt.
func TestRequestDeadline(t *testing.T) {
	var deadline time.Time
	var has bool
	h := admit(nil, 3*time.Second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline, has = r.Context().Deadline()
	}))
	start := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/accounts/acc_1", nil))
	if !has || deadline.Before(start) || deadline.After(start.Add(3*time.Second+time.Minute)) {
		t.Errorf("deadline = %v (set %v), want about 3 s after %v", deadline, has, start)
	}
	stream := httptest.NewRequest("GET", "/v1/events", nil)
	stream.Header.Set("Accept", "text/event-stream")
	h.ServeHTTP(httptest.NewRecorder(), stream)
	if has {
		t.Errorf("event stream got a deadline %v, want none", deadline)
	}
}
