package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/testenv"
)

// propagation is how soon every replica must serve a newly applied kinds
// document.
const propagation = 2 * time.Second

// TestKindsOnTwoReplicas follows docs/adding-a-kind.md on two replicas of
// one database, on every engine: a new kind with fragments, identifiers, a
// guarded lifecycle and relations is applied on one replica and usable on
// both within seconds, with no restart; breaking changes are refused with
// counts; a rollback goes through the same checks.
func TestKindsOnTwoReplicas(t *testing.T) {
	addition, err := os.ReadFile("../../docs/examples/partner-vertical.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dbURL := e.URL(t)
			a, key, stopA := startServe(t, dbURL)
			b, _, stopB := startReplica(t, dbURL)
			defer stopB()
			defer stopA()
			dir := t.TempDir()
			cli := func(server string, args ...string) (string, error) {
				return atrium(t, append(args, "--server", server, "--key", key)...)
			}

			// Step 1: fetch the live document and add the two kinds.
			live, err := cli(a, "kinds", "get")
			if err != nil {
				t.Fatalf("kinds get: %v", err)
			}
			file := filepath.Join(dir, "kinds.yaml")
			writeFile(t, file, live+string(addition))

			// Step 2: diff against what is live, then apply on replica A.
			out, err := cli(b, "kinds", "diff", file)
			if err != nil || !strings.Contains(out, "+ kinds.partner\n+ kinds.vertical\nthe server accepts it") {
				t.Fatalf("kinds diff = %q, %v", out, err)
			}
			if out, err := cli(a, "kinds", "apply", file); err != nil || !strings.HasPrefix(out, "applied version 2\n") {
				t.Fatalf("kinds apply = %q, %v", out, err)
			}

			// Step 3: replica B serves the new kind within the bound.
			start := time.Now()
			var partner string
			for partner == "" {
				out, err := cli(b, "accounts", "create", "--kind", "partner", "--fragment", `profile={"name":"Globex"}`, "--identifier", "username=globex")
				switch {
				case err == nil:
					partner = idOf(t, out)
				case time.Since(start) > propagation:
					t.Fatalf("replica B still refuses kind partner after %v: %v", propagation, err)
				default:
					time.Sleep(20 * time.Millisecond)
				}
			}
			t.Logf("replica B served the new document after %v", time.Since(start).Round(time.Millisecond))

			// Step 4: the KYC guard, checked on A, with data written on B.
			status, body := call(t, "POST", a+"/v1/accounts/"+partner+":transition", key, `{"transition":"activate"}`)
			if status != http.StatusBadRequest || !strings.Contains(body, "failed_precondition") || !strings.Contains(body, "guard kyc_verified") {
				t.Errorf("activate without KYC = %d %s, want 400 failed_precondition naming guard kyc_verified", status, body)
			}
			if status, body := call(t, "PUT", b+"/v1/accounts/"+partner+"/fragments/kyc", key, `{"level":1}`); status != http.StatusOK {
				t.Fatalf("put kyc = %d %s", status, body)
			}
			status, body = call(t, "POST", a+"/v1/accounts/"+partner+":transition", key, `{"transition":"activate"}`)
			if status != http.StatusOK || !strings.Contains(body, `"state":"active"`) {
				t.Errorf("activate with KYC = %d %s, want 200 active", status, body)
			}
			if out, err := cli(a, "accounts", "create", "--kind", "vertical", "--fragment", `profile={"name":"Payments","industry":"finance"}`); err != nil || !strings.Contains(out, `"vrt_`) {
				t.Errorf("create vertical on A = %q, %v", out, err)
			}

			// Step 5: breaking changes are refused with counts, dry run or not.
			breaking := strings.Replace(strings.Replace(live+string(addition), "id_prefix: ptn", "id_prefix: prt", 1),
				"level:      {type: integer, minimum: 0, maximum: 3}", "level:      {type: integer, minimum: 2, maximum: 3}", 1)
			bad := filepath.Join(dir, "breaking.yaml")
			writeFile(t, bad, breaking)
			for _, dry := range []bool{true, false} {
				args := []string{"kinds", "apply", bad}
				if dry {
					args = append(args, "--dry-run")
				}
				_, err := cli(b, args...)
				if err == nil || !strings.Contains(err.Error(), "failed_precondition") ||
					!strings.Contains(err.Error(), "kinds.partner.id_prefix: cannot change: the IDs of existing partner accounts carry the old prefix; 1 account affected") ||
					!strings.Contains(err.Error(), "kinds.partner.fragments.kyc.schema: stored kyc data fails the new schema; 1 account affected") {
					t.Errorf("kinds apply breaking (dry run %v) = %v, want both changes refused with counts", dry, err)
				}
			}

			// Step 6: relations are type-checked.
			writeFile(t, bad, strings.Replace(live+string(addition), "define org: [org]", "define org: [nothing]", 1))
			if _, err := cli(a, "kinds", "apply", bad); err == nil || !strings.Contains(err.Error(), "kinds.partner.relations") {
				t.Errorf("kinds apply with a bad relation = %v, want invalid naming kinds.partner.relations", err)
			}

			// Step 7: rolling back to version 1 would remove kinds in use.
			if _, err := cli(b, "kinds", "apply", "--version", "1"); err == nil ||
				!strings.Contains(err.Error(), "kinds.partner: cannot remove: accounts of kind partner exist; 1 account affected") {
				t.Errorf("rollback to version 1 = %v, want refused with counts", err)
			}

			// Step 8: an optional property applies at once and reaches A.
			writeFile(t, file, strings.Replace(live+string(addition), "checked_at: {type: string, format: date-time}",
				"checked_at: {type: string, format: date-time}\n            country:    {type: string, pattern: \"^[A-Z]{2}$\"}", 1))
			if out, err := cli(b, "kinds", "apply", file); err != nil || out != "applied version 3\n~ kinds.partner.fragments.kyc.schema\n" {
				t.Fatalf("kinds apply optional property = %q, %v", out, err)
			}
			waitFor(t, "replica A accepts the new property", func() bool {
				status, _ := call(t, "PATCH", a+"/v1/accounts/"+partner+"/fragments/kyc", key, `{"country":"NL"}`)
				return status == http.StatusOK
			})

			// The history keeps every version, who applied it and its diff.
			var v2 struct {
				Version   string   `json:"version"`
				AppliedBy string   `json:"appliedBy"`
				Changes   []string `json:"changes"`
			}
			_, body = call(t, "GET", a+"/v1/kinds?version=2", key, "")
			if err := json.Unmarshal([]byte(body), &v2); err != nil || v2.Version != "2" || !strings.HasPrefix(key, "atr_"+v2.AppliedBy+"_") ||
				strings.Join(v2.Changes, ",") != "+ kinds.partner,+ kinds.vertical" {
				t.Errorf("GET /v1/kinds?version=2 = %s", body)
			}
		})
	}
}

func writeFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// idOf returns the id of an account printed by the client.
func idOf(t *testing.T, out string) string {
	t.Helper()
	var a struct{ ID string }
	if err := json.Unmarshal([]byte(out), &a); err != nil || a.ID == "" {
		t.Fatalf("no account in %q", out)
	}
	return a.ID
}

// call makes one REST call and returns its status and body.
func call(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		if method == "PATCH" {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitFor polls ok until it holds, failing t after the propagation bound.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(propagation)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, propagation)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
