package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/apikey"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/atriumid/atrium/internal/webhook"
)

// makeHistory creates an org, patches it, suspends it and erases it, as
// the caller with the given request ID, and returns the org's ID.
func makeHistory(t *testing.T, c client, requestID string) string {
	t.Helper()
	res := c.do("POST", "/v1/accounts", map[string]any{"kind": "org", "fragments": map[string]any{
		"profile": map[string]any{"name": "Acme"}, "tax_id": map[string]any{"ein": "12-3456789"}},
		"identifiers": []any{map[string]any{"type": "username", "value": "acme"}}}, "X-Request-Id", requestID, "User-Agent", "events-test/1")
	if res.status != 201 {
		t.Fatalf("create = %d %s", res.status, res.raw)
	}
	if got := res.header.Get("X-Request-Id"); got != requestID {
		t.Errorf("X-Request-Id echoed = %q, want %q", got, requestID)
	}
	id := res.body["id"].(string)
	if res := c.do("PATCH", "/v1/accounts/"+id+"/fragments/profile", `{"name":"Acme Corp"}`); res.status != 200 {
		t.Fatalf("patch = %d %s", res.status, res.raw)
	}
	if res := c.do("POST", "/v1/accounts/"+id+":transition", map[string]any{"transition": "suspend", "reason": "Jane Doe asked"}); res.status != 200 {
		t.Fatalf("transition = %d %s", res.status, res.raw)
	}
	return id
}

func TestEventsFeed(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		id := makeHistory(t, c, "req-events-1")
		res := c.do("GET", "/v1/events", nil)
		if res.status != 200 {
			t.Fatalf("GET /v1/events = %d %s", res.status, res.raw)
		}
		var page struct {
			Events []struct {
				SpecVersion, ID, Source, Type, Subject, Time, DataContentType string
				Data                                                          map[string]any
			}
			NextCursor string
		}
		json.Unmarshal([]byte(res.raw), &page)
		var types []string
		for _, e := range page.Events {
			types = append(types, e.Type)
			if e.SpecVersion != "1.0" || e.Subject != id || e.ID == "" || e.Source == "" || e.DataContentType != "application/json" {
				t.Errorf("event %+v is not a CloudEvent about %s", e, id)
			}
			if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
				t.Errorf("event time %q: %v", e.Time, err)
			}
		}
		want := "atrium.account.created,atrium.account.fragment_updated,atrium.account.transitioned"
		if strings.Join(types, ",") != want || page.NextCursor != "3" {
			t.Fatalf("events = %v, cursor %q; want %s, cursor 3", types, page.NextCursor, want)
		}
		for _, secret := range []string{"12-3456789", "acme"} {
			if strings.Contains(res.raw, secret) {
				t.Errorf("the event feed contains %q", secret)
			}
		}
		// Paging: two at a time, then nothing after the last.
		first := c.do("GET", "/v1/events?page_size=2", nil)
		second := c.do("GET", "/v1/events?page_size=2&after="+fmt.Sprint(first.body["nextCursor"]), nil)
		if n1, n2 := len(first.body["events"].([]any)), len(second.body["events"].([]any)); n1 != 2 || n2 != 1 || second.body["nextCursor"] != "3" {
			t.Errorf("pages of 2 = %d then %d events, cursor %v; want 2, 1, cursor 3", n1, n2, second.body["nextCursor"])
		}
		if res := c.do("GET", "/v1/events?after=3", nil); res.status != 200 || len(res.body["events"].([]any)) != 0 || res.body["nextCursor"] != "3" {
			t.Errorf("GET after the last = %d %s; want no events, cursor 3", res.status, res.raw)
		}
		st := c.do("GET", "/v1/events:status", nil)
		if st.status != 200 || st.body["lastCursor"] != "3" || st.body["relays"] == nil {
			t.Errorf("GET /v1/events:status = %d %s; want last cursor 3 and the relays", st.status, st.raw)
		}
		for _, bad := range []string{"x", "-1", "99"} {
			if res := c.do("GET", "/v1/events?after="+bad, nil); res.status != 400 {
				t.Errorf("GET /v1/events?after=%s = %d, want 400", bad, res.status)
			}
		}
	})
}

func TestEventsStream(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		makeHistory(t, c, "req-stream")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", c.srv.URL+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+c.srv.Key)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", "1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
			t.Fatalf("stream = %d %s", res.StatusCode, ct)
		}
		sc := bufio.NewScanner(res.Body)
		next := func() (id, typ string) {
			t.Helper()
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "id: "):
					id = line[4:]
				case strings.HasPrefix(line, "event: "):
					typ = line[7:]
				case line == "" && id != "":
					return id, typ
				}
			}
			t.Fatalf("stream ended: %v", sc.Err())
			return "", ""
		}
		for _, want := range []string{"2 atrium.account.fragment_updated", "3 atrium.account.transitioned"} {
			if id, typ := next(); id+" "+typ != want {
				t.Errorf("streamed %s %s, want %s", id, typ, want)
			}
		}
		// A write after the stream started arrives on it.
		c.do("POST", "/v1/accounts", map[string]any{"kind": "org", "fragments": map[string]any{"profile": map[string]any{"name": "Beta"}}})
		if id, typ := next(); id != "4" || typ != "atrium.account.created" {
			t.Errorf("streamed %s %s after a create, want 4 atrium.account.created", id, typ)
		}
	})
}

func TestAuditAPI(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		id := makeHistory(t, c, "req-audit-1")
		res := c.do("GET", "/v1/audit?account="+id, nil)
		recs, _ := res.body["records"].([]any)
		if res.status != 200 || len(recs) != 3 {
			t.Fatalf("GET /v1/audit?account = %d, %d records; want 3\n%s", res.status, len(recs), res.raw)
		}
		r0 := recs[0].(map[string]any)
		keyID := strings.Split(c.srv.Key, "_")[1]
		if r0["actor"] != "key:"+keyID || r0["ip"] != "127.0.0.1" || r0["userAgent"] != "events-test/1" || r0["requestId"] != "req-audit-1" || r0["type"] != "atrium.account.created" {
			t.Errorf("first record = %v; want the caller's key, IP, user agent and request ID", r0)
		}
		if strings.Contains(res.raw, "Jane Doe") || strings.Contains(res.raw, "12-3456789") {
			t.Errorf("audit records hold personal data: %s", res.raw)
		}
		if res := c.do("GET", "/v1/audit?type=atrium.account.transitioned&actor=key:"+keyID, nil); len(res.body["records"].([]any)) != 1 {
			t.Errorf("filter by type and actor = %s, want 1 record", res.raw)
		}
		if res := c.do("GET", "/v1/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", nil); len(res.body["records"].([]any)) != 0 {
			t.Errorf("filter by an old time range = %s, want none", res.raw)
		}
		if res := c.do("GET", "/v1/audit?since=yesterday", nil); res.status != 400 {
			t.Errorf("GET /v1/audit?since=yesterday = %d, want 400", res.status)
		}
		if res := c.do("GET", "/v1/audit?page_size=2&account="+id, nil); res.body["nextPageToken"] != "3" {
			t.Errorf("first page of 2: next token %v, want 2", res.body["nextPageToken"])
		}
		// Erasure forgets the client data of the account's records, and
		// the chain still verifies.
		if res := c.do("DELETE", "/v1/accounts/"+id, nil); res.status != 200 {
			t.Fatalf("erase = %d %s", res.status, res.raw)
		}
		res = c.do("GET", "/v1/audit?account="+id, nil)
		if strings.Contains(res.raw, "127.0.0.1") || strings.Contains(res.raw, "events-test") {
			t.Errorf("after erasure the account's records still hold client data: %s", res.raw)
		}
		// Security events: the bootstrap key's creation, and refused keys,
		// recorded once a minute per address however many arrive.
		for range 3 {
			req, _ := http.NewRequest("GET", c.srv.URL+"/v1/accounts/"+id, nil)
			req.Header.Set("Authorization", "Bearer atr_wrong")
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 401 {
				t.Fatalf("bad key = %v, %v", res, err)
			}
		}
		sec := c.do("GET", "/v1/audit?type=atrium.security.authentication_failed", nil)
		if recs := sec.body["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["actor"] != "anonymous" || recs[0].(map[string]any)["ip"] != "127.0.0.1" {
			t.Errorf("authentication failures recorded = %s; want one, anonymous, from 127.0.0.1", sec.raw)
		}
		boot := c.do("GET", "/v1/audit?type=atrium.security.api_key_created", nil)
		if recs := boot.body["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["actor"] != "system" {
			t.Errorf("bootstrap key creation recorded = %s; want one, by system", boot.raw)
		}
		// A key without the admin role is refused admin calls, and the
		// refusal recorded once a minute per key.
		reader, _ := apikey.New()
		if _, err := testenv.RawDB(t, c.srv.Database).Exec(`INSERT INTO api_keys (id, hash, role, create_time) VALUES ($1, $2, 'reader', 0)`,
			reader.ID, apikey.Hash(reader.Secret)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			req, _ := http.NewRequest("PUT", c.srv.URL+"/v1/kinds", strings.NewReader(`{"document":"kinds: {}"}`))
			req.Header.Set("Authorization", "Bearer "+reader.Secret)
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 403 {
				t.Fatalf("PUT /v1/kinds with a reader key = %v, %v; want 403", res, err)
			}
		}
		denied := c.do("GET", "/v1/audit?type=atrium.security.authorization_denied", nil)
		if recs := denied.body["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["actor"] != "key:"+reader.ID {
			t.Errorf("authorization denials recorded = %s; want one, by key:%s", denied.raw, reader.ID)
		}
		v := c.do("GET", "/v1/audit:verify", nil)
		if v.status != 200 || v.body["ok"] != true || v.body["records"] != "7" {
			t.Fatalf("verify = %d %s, want ok with 7 records", v.status, v.raw)
		}
		// An edit made behind Atrium's back is found, and named.
		if _, err := testenv.RawDB(t, c.srv.Database).Exec(`UPDATE audit_records SET actor = 'key:someone' WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		v = c.do("GET", "/v1/audit:verify", nil)
		bad, _ := v.body["firstBad"].(map[string]any)
		if v.body["ok"] != false || bad == nil || bad["seq"] != "3" {
			t.Errorf("verify after an edit = %s, want record 3 named", v.raw)
		}
	})
}

func TestWebhooksAPI(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		for _, u := range []string{"http://127.0.0.1:9/hook", "https://169.254.169.254/", "ftp://192.0.2.10/"} {
			if res := c.do("POST", "/v1/webhooks", map[string]any{"url": u}); res.status != 400 {
				t.Errorf("create webhook to %s = %d %s, want 400", u, res.status, res.raw)
			}
		}
		if res := c.do("POST", "/v1/webhooks", map[string]any{"url": "https://192.0.2.10/hook", "types": []string{"bad type"}}); res.status != 400 {
			t.Errorf("create webhook with a bad type = %d, want 400", res.status)
		}
		if res := c.do("POST", "/v1/webhooks", map[string]any{"url": "https://192.0.2.10/hook", "extra": 1}); res.status != 400 {
			t.Errorf("create webhook with an unknown field = %d, want 400", res.status)
		}
		res := c.do("POST", "/v1/webhooks", map[string]any{"url": "https://192.0.2.10/hook", "types": []string{"atrium.account.*"}})
		secret, _ := res.body["secret"].(string)
		if res.status != 201 || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("create webhook = %d %s", res.status, res.raw)
		}
		id := res.body["id"].(string)
		list := c.do("GET", "/v1/webhooks", nil)
		if hooks := list.body["webhooks"].([]any); len(hooks) != 1 || strings.Contains(list.raw, secret) {
			t.Errorf("list = %s; want one webhook, without its secret", list.raw)
		}
		if res := c.do("GET", "/v1/webhooks/"+id+"/deliveries?state=dead", nil); res.status != 200 {
			t.Errorf("deliveries = %d %s", res.status, res.raw)
		}
		if res := c.do("POST", "/v1/webhooks/"+id+"/deliveries/7:redeliver", nil); res.status != 404 {
			t.Errorf("redeliver an unknown delivery = %d, want 404", res.status)
		}
		if res := c.do("DELETE", "/v1/webhooks/"+id, nil); res.status != 200 {
			t.Errorf("delete = %d", res.status)
		}
		if res := c.do("GET", "/v1/webhooks/"+id+"/deliveries", nil); res.status != 404 {
			t.Errorf("deliveries of a deleted webhook = %d, want 404", res.status)
		}
		// The creation and the deletion are audited, by the admin key; the
		// refused redelivery is not, and no record holds the URL's path.
		aud := c.do("GET", "/v1/audit?account=webhook:"+id, nil)
		var types []string
		for _, r := range aud.body["records"].([]any) {
			r := r.(map[string]any)
			types = append(types, r["type"].(string))
			if !strings.HasPrefix(r["actor"].(string), "key:") {
				t.Errorf("audit record by %v, want the admin key", r["actor"])
			}
		}
		if strings.Join(types, ",") != "atrium.webhook.created,atrium.webhook.deleted" || strings.Contains(aud.raw, "/hook") || !strings.Contains(aud.raw, "192.0.2.10") {
			t.Errorf("audit of the webhook = %s; want its creation (naming the host only) and deletion", aud.raw)
		}
	})
}

// TestWebhookEndToEnd subscribes a receiver through the API, writes, and
// checks that the server delivers the event signed with the secret the API
// showed, which it stores only sealed.
func TestWebhookEndToEnd(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			type hit struct {
				header http.Header
				body   []byte
			}
			hits := make(chan hit, 10)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				hits <- hit{r.Header.Clone(), b}
			}))
			defer recv.Close()
			srv := testenv.StartServer(t, e.URL(t), func(c *config.Config) { c.WebhookAllowPrivate = true })
			c := client{t: t, srv: srv}
			res := c.do("POST", "/v1/webhooks", map[string]any{"url": recv.URL + "/hook", "types": []string{"atrium.account.created"}})
			if res.status != 201 {
				t.Fatalf("create webhook = %d %s", res.status, res.raw)
			}
			secret, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(res.body["secret"].(string), "whsec_"))
			var stored []byte
			testenv.RawDB(t, srv.Database).QueryRow(`SELECT secret FROM webhooks`).Scan(&stored)
			if bytes.Contains(stored, secret) {
				t.Error("the webhook secret is stored in the clear")
			}
			acct := c.do("POST", "/v1/accounts", map[string]any{"kind": "org", "fragments": map[string]any{"profile": map[string]any{"name": "Hooked"}}})
			select {
			case h := <-hits:
				ts, _ := strconv.ParseInt(h.header.Get("webhook-timestamp"), 10, 64)
				want := webhook.Sign(secret, h.header.Get("webhook-id"), time.Unix(ts, 0), h.body)
				if h.header.Get("webhook-signature") != want {
					t.Errorf("signature %q, want %q", h.header.Get("webhook-signature"), want)
				}
				if !strings.Contains(string(h.body), acct.body["id"].(string)) || !strings.Contains(string(h.body), `"type":"atrium.account.created"`) {
					t.Errorf("delivered %s, want the creation of %v", h.body, acct.body["id"])
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no delivery within 15 s")
			}
		})
	}
}

// TestEventAndAuditServices reads events and audit records over Connect
// and gRPC, as REST does.
func TestEventAndAuditServices(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		id := makeHistory(t, c, "req-connect")
		ctx := context.Background()
		auth := func(r connect.AnyRequest) { r.Header().Set("Authorization", "Bearer "+c.srv.Key) }
		for _, opts := range [][]connect.ClientOption{nil, {connect.WithGRPC()}} {
			hc := http.DefaultClient
			if len(opts) > 0 {
				hc = testenv.H2CClient()
			}
			events := atriumv1connect.NewEventServiceClient(hc, c.srv.URL, opts...)
			req := connect.NewRequest(&atriumv1.ListEventsRequest{After: "1", PageSize: 5})
			auth(req)
			res, err := events.ListEvents(ctx, req)
			if err != nil {
				t.Fatalf("ListEvents: %v", err)
			}
			if n := len(res.Msg.Events); n != 2 || res.Msg.NextCursor != "3" || res.Msg.Events[0].Subject != id || res.Msg.Events[0].Cursor != "2" {
				t.Errorf("ListEvents after 1 = %v", res.Msg)
			}
			bad := connect.NewRequest(&atriumv1.ListEventsRequest{After: "x"})
			auth(bad)
			if _, err := events.ListEvents(ctx, bad); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("ListEvents(after x) = %v, want InvalidArgument", err)
			}
			audits := atriumv1connect.NewAuditServiceClient(hc, c.srv.URL, opts...)
			lreq := connect.NewRequest(&atriumv1.ListAuditRecordsRequest{Account: id})
			auth(lreq)
			lres, err := audits.ListAuditRecords(ctx, lreq)
			if err != nil || len(lres.Msg.Records) != 3 || lres.Msg.Records[0].RequestId != "req-connect" {
				t.Errorf("ListAuditRecords = %v, %v; want 3 records of request req-connect", lres, err)
			}
			vreq := connect.NewRequest(&atriumv1.VerifyAuditRequest{})
			auth(vreq)
			if v, err := audits.VerifyAudit(ctx, vreq); err != nil || !v.Msg.Ok || v.Msg.Records != 4 {
				t.Errorf("VerifyAudit = %v, %v; want ok with 4 records", v, err)
			}
		}
	})
}
