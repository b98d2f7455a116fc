package main

import (
	"encoding/json"
	"github.com/atriumid/atrium/bench/childproc"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/relworkload"
	"github.com/google/go-cmp/cmp"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args      []string
		wantErr   bool
		wantSweep []int
	}{
		{args: []string{"-atrium", "a"}, wantSweep: []int{1, 4, 16, 64}},
		{args: []string{"-atrium", "a", "-sweep", "2, 8"}, wantSweep: []int{2, 8}},
		{args: []string{"-atrium", "a", "-sweep", ""}, wantSweep: nil},
		{args: []string{}, wantErr: true},
		{args: []string{"-atrium", "a", "-n", "0"}, wantErr: true},
		{args: []string{"-atrium", "a", "-sweep", "1,x"}, wantErr: true},
		{args: []string{"-atrium", "a", "-sweep", "0"}, wantErr: true},
		{args: []string{"-atrium", "a", "-rounds", "21"}, wantErr: true},
		{args: []string{"-atrium", "a", "-pool", "200001"}, wantErr: true},
		{args: []string{"-atrium", "a", "-max", "0s"}, wantErr: true},
		{args: []string{"-atrium", "a", "extra"}, wantErr: true},
		{args: []string{"-atrium", "a", "-openfga-datastore", "postgres"}, wantErr: true},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if err == nil {
			if diff := cmp.Diff(tt.wantSweep, o.sweep); diff != "" {
				t.Errorf("parseFlags(%q).sweep (-want +got):\n%s", tt.args, diff)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	p := &childproc.Process{Base: "http://127.0.0.1:1"}
	tests := []struct {
		s       *system
		body    string
		want    bool
		wantErr bool
	}{
		{atriumSystem(p), `{"allowed":true,"revision":"3"}`, true, false},
		{atriumSystem(p), `{"revision":"3"}`, false, false}, // protobuf JSON leaves false out
		{atriumSystem(p), `not json`, false, true},
		{openfgaSystem(p), `{"allowed":true,"resolution":""}`, true, false},
		{openfgaSystem(p), `{"allowed":false,"resolution":""}`, false, false},
		{spicedbSystem(p), `{"permissionship":"PERMISSIONSHIP_HAS_PERMISSION"}`, true, false},
		{spicedbSystem(p), `{"permissionship":"PERMISSIONSHIP_NO_PERMISSION"}`, false, false},
		{spicedbSystem(p), `{"permissionship":"PERMISSIONSHIP_CONDITIONAL_PERMISSION"}`, false, true},
	}
	for _, tt := range tests {
		got, err := tt.s.allowed([]byte(tt.body))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s.allowed(%s) = %v, %v; want %v, error %v", tt.s.name, tt.body, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestRequests checks the bodies sent to each server for one tuple and one
// check, field by field.
func TestRequests(t *testing.T) {
	p := &childproc.Process{Base: "http://127.0.0.1:1", Key: "k"}
	tuple := relworkload.Tuple{Object: "org:o1", Relation: "member", Subject: "group:g2#member"}
	check := relworkload.Check{Subject: "user:u3", Relation: "viewer", Object: "org:o1"}
	tests := []struct {
		s                    *system
		writeURL, checkURL   string
		wantWrite, wantCheck string
	}{
		{atriumSystem(p), "/v1/relationships:write", "/v1/check",
			`{"writes":[{"object":"org:o1","relation":"member","subject":"group:g2#member"}]}`,
			`{"object":"org:o1","relation":"viewer","subject":"user:u3"}`},
		{openfgaSystem(p), "/stores//write", "/stores//check",
			`{"authorization_model_id":"","writes":{"tuple_keys":[{"object":"org:o1","relation":"member","user":"group:g2#member"}]}}`,
			`{"authorization_model_id":"","tuple_key":{"object":"org:o1","relation":"viewer","user":"user:u3"}}`},
		{spicedbSystem(p), "/v1/relationships/write", "/v1/permissions/check",
			`{"updates":[{"operation":"OPERATION_TOUCH","relationship":{"relation":"direct_member","resource":{"objectId":"o1","objectType":"org"},"subject":{"object":{"objectId":"g2","objectType":"group"},"optionalRelation":"member"}}}]}`,
			`{"consistency":{"minimizeLatency":true},"permission":"viewer","resource":{"objectId":"o1","objectType":"org"},"subject":{"object":{"objectId":"u3","objectType":"user"}}}`},
	}
	for _, tt := range tests {
		w := tt.s.write([]relworkload.Tuple{tuple})
		c := tt.s.check(check)
		for _, x := range []struct {
			req       loadgen.Request
			url, body string
		}{{w, tt.writeURL, tt.wantWrite}, {c, tt.checkURL, tt.wantCheck}} {
			if got := strings.TrimPrefix(x.req.URL, p.Base); got != x.url {
				t.Errorf("%s: URL = %q, want %q", tt.s.name, got, x.url)
			}
			if diff := cmp.Diff(decode(t, x.body), decode(t, string(x.req.Body))); diff != "" {
				t.Errorf("%s: body (-want +got):\n%s", tt.s.name, diff)
			}
			if err := loadgen.CheckTarget(x.req.URL); err != nil {
				t.Errorf("%s: %v", tt.s.name, err)
			}
		}
	}
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("json %q: %v", s, err)
	}
	return v
}

func fakeReport(ok int, elapsed, p time.Duration) *loadgen.Report {
	lat := make([]time.Duration, ok)
	for i := range lat {
		lat[i] = p
	}
	return &loadgen.Report{Requests: ok, OK: ok, Elapsed: elapsed, Latencies: lat}
}

func TestMarkdownRatios(t *testing.T) {
	o, err := parseFlags([]string{"-atrium", "a", "-sweep", "", "-rounds", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sc := o.scenarios()[0]
	rep := &report{opts: o, tuples: 10, loads: []loaded{{"Atrium", time.Second}}, verified: []verified{{"Atrium", 300, 0}}}
	add := func(name string, rps []int, p99 time.Duration) {
		r := &result{scenario: sc, system: name}
		for _, n := range rps {
			r.runs = append(r.runs, outcome{rep: fakeReport(n, time.Second, p99)})
		}
		rep.results = append(rep.results, r)
	}
	add("Atrium", []int{900, 1000, 5000}, 10*time.Millisecond)
	add("OpenFGA", []int{100, 200, 50}, 40*time.Millisecond)
	add("SpiceDB", []int{500, 400, 600}, 20*time.Millisecond)
	md := rep.markdown()
	for _, want := range []string{
		"| " + sc.name + " | Atrium | 1000 | 900–5000 | 10.00 ms | 10.00 ms | 0 | 0 |",
		"| " + sc.name + " | 10.00× | 2.00× | 0.25× | 0.50× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown() lacks %q; got:\n%s", want, md)
		}
	}
}

func TestMiddle(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2},
	}
	for _, tt := range tests {
		if got := middle(tt.in); got != tt.want {
			t.Errorf("middle(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseFlags feeds arbitrary -sweep lists and sizes to the flag parser:
// it must never panic, and whatever it accepts must be within the bounds
// that keep a run finite.
func FuzzParseFlags(f *testing.F) {
	f.Add("1,4,16,64", 2000, 3)
	f.Add("", 1, 1)
	f.Add(",,7,", 10, 20)
	f.Add("1,-1", 5, 2)
	f.Add("99999999999999999999", 1, 1)
	f.Fuzz(func(t *testing.T, sweep string, n, rounds int) {
		args := []string{"-atrium", "a", "-sweep", sweep, "-n", strconv.Itoa(n), "-rounds", strconv.Itoa(rounds)}
		o, err := parseFlags(args, io.Discard)
		if err != nil {
			return
		}
		if o.n < 1 || o.n > loadgen.MaxRequests || o.rounds < 1 || o.rounds > maxRounds {
			t.Fatalf("parseFlags(%q) accepted n=%d rounds=%d", args, o.n, o.rounds)
		}
		for _, c := range o.sweep {
			if c < 1 || c > loadgen.MaxConcurrency {
				t.Fatalf("parseFlags(%q) accepted sweep concurrency %d", args, c)
			}
		}
	})
}
