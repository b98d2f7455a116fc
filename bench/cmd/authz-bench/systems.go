package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/atriumid/atrium/bench/childproc"
	"net/http"
	"strings"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/relworkload"
	"github.com/atriumid/atrium/internal/fault"
)

// system is one relationship service under test, spoken to over its HTTP
// JSON API.
type system struct {
	name string
	proc *childproc.Process
	// setup installs the model; it runs once, before the tuples are
	// written.
	setup func(ctx context.Context) error
	// write returns the request that writes one batch of tuples.
	write func(ts []relworkload.Tuple) loadgen.Request
	// check returns the request that asks one check.
	check func(c relworkload.Check) loadgen.Request
	// allowed reads the answer from a check's response body.
	allowed func(body []byte) (bool, error)
}

func jsonHeader(bearer string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	}
	return h
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps, slices and strings are marshalled here
	}
	return b
}

// call sends one request and returns the body of its successful response.
func call(ctx context.Context, req loadgen.Request) ([]byte, error) {
	var body []byte
	rep, err := loadgen.Run(ctx, loadgen.Plan{
		Requests: 1, Concurrency: 1, Build: func(int) loadgen.Request { return req },
		Observe: func(_ int, b []byte) { body = append([]byte(nil), b...) },
	})
	if err != nil {
		return nil, err
	}
	if rep.OK != 1 {
		return nil, fault.E("bench.call", fault.Unavailable, "%s %s failed: %v", req.Method, req.URL, rep.Errors)
	}
	return body, nil
}

// atriumSystem speaks Atrium's REST API (DESIGN §1.4).
func atriumSystem(p *childproc.Process) *system {
	h := jsonHeader(p.Key)
	return &system{
		name: "Atrium", proc: p,
		setup: func(context.Context) error { return nil }, // the model comes with --kinds
		write: func(ts []relworkload.Tuple) loadgen.Request {
			ws := make([]map[string]string, len(ts))
			for i, t := range ts {
				ws[i] = map[string]string{"object": t.Object, "relation": t.Relation, "subject": t.Subject}
			}
			return loadgen.Request{Method: http.MethodPost, URL: p.Base + "/v1/relationships:write", Header: h,
				Body: mustJSON(map[string]any{"writes": ws})}
		},
		check: func(c relworkload.Check) loadgen.Request {
			return loadgen.Request{Method: http.MethodPost, URL: p.Base + "/v1/check", Header: h,
				Body: mustJSON(map[string]string{"subject": c.Subject, "relation": c.Relation, "object": c.Object})}
		},
		allowed: func(body []byte) (bool, error) {
			var r struct {
				Allowed bool `json:"allowed"`
			}
			return r.Allowed, json.Unmarshal(body, &r)
		},
	}
}

// openfgaSystem speaks OpenFGA's HTTP API: a store, an authorization
// model, then writes and checks against both.
func openfgaSystem(p *childproc.Process) *system {
	h := jsonHeader("")
	var store, model string
	s := &system{name: "OpenFGA", proc: p}
	s.setup = func(ctx context.Context) error {
		body, err := call(ctx, loadgen.Request{Method: http.MethodPost, URL: p.Base + "/stores", Header: h, Body: []byte(`{"name":"bench"}`)})
		if err != nil {
			return err
		}
		var st struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &st); err != nil || st.ID == "" {
			return fault.E("bench.openfga", fault.Unavailable, "create store: unexpected answer %.200q", body)
		}
		store = st.ID
		body, err = call(ctx, loadgen.Request{Method: http.MethodPost, URL: p.Base + "/stores/" + store + "/authorization-models", Header: h,
			Body: []byte(relworkload.OpenFGAModel)})
		if err != nil {
			return err
		}
		var m struct {
			ID string `json:"authorization_model_id"`
		}
		if err := json.Unmarshal(body, &m); err != nil || m.ID == "" {
			return fault.E("bench.openfga", fault.Unavailable, "write model: unexpected answer %.200q", body)
		}
		model = m.ID
		return nil
	}
	s.write = func(ts []relworkload.Tuple) loadgen.Request {
		keys := make([]map[string]string, len(ts))
		for i, t := range ts {
			keys[i] = map[string]string{"user": t.Subject, "relation": t.Relation, "object": t.Object}
		}
		return loadgen.Request{Method: http.MethodPost, URL: p.Base + "/stores/" + store + "/write", Header: h,
			Body: mustJSON(map[string]any{"writes": map[string]any{"tuple_keys": keys}, "authorization_model_id": model})}
	}
	s.check = func(c relworkload.Check) loadgen.Request {
		return loadgen.Request{Method: http.MethodPost, URL: p.Base + "/stores/" + store + "/check", Header: h,
			Body: mustJSON(map[string]any{
				"tuple_key":              map[string]string{"user": c.Subject, "relation": c.Relation, "object": c.Object},
				"authorization_model_id": model,
			})}
	}
	s.allowed = func(body []byte) (bool, error) {
		var r struct {
			Allowed bool `json:"allowed"`
		}
		return r.Allowed, json.Unmarshal(body, &r)
	}
	return s
}

// spicedbSystem speaks SpiceDB's HTTP gateway, authenticated by the
// preshared key.
func spicedbSystem(p *childproc.Process) *system {
	h := jsonHeader(p.Key)
	return &system{
		name: "SpiceDB", proc: p,
		setup: func(ctx context.Context) error {
			_, err := call(ctx, loadgen.Request{Method: http.MethodPost, URL: p.Base + "/v1/schema/write", Header: h,
				Body: mustJSON(map[string]string{"schema": relworkload.SpiceDBSchema})})
			return err
		},
		write: func(ts []relworkload.Tuple) loadgen.Request {
			ups := make([]map[string]any, len(ts))
			for i, t := range ts {
				typ, _, _ := strings.Cut(t.Object, ":")
				ups[i] = map[string]any{"operation": "OPERATION_TOUCH", "relationship": map[string]any{
					"resource": ref(t.Object), "relation": relworkload.SpiceDBRelation(typ, t.Relation), "subject": subject(t.Subject),
				}}
			}
			return loadgen.Request{Method: http.MethodPost, URL: p.Base + "/v1/relationships/write", Header: h,
				Body: mustJSON(map[string]any{"updates": ups})}
		},
		check: func(c relworkload.Check) loadgen.Request {
			return loadgen.Request{Method: http.MethodPost, URL: p.Base + "/v1/permissions/check", Header: h,
				Body: mustJSON(map[string]any{
					"consistency": map[string]bool{"minimizeLatency": true},
					"resource":    ref(c.Object), "permission": c.Relation, "subject": subject(c.Subject),
				})}
		},
		allowed: func(body []byte) (bool, error) {
			var r struct {
				Permissionship string `json:"permissionship"`
			}
			if err := json.Unmarshal(body, &r); err != nil {
				return false, err
			}
			switch r.Permissionship {
			case "PERMISSIONSHIP_HAS_PERMISSION":
				return true, nil
			case "PERMISSIONSHIP_NO_PERMISSION":
				return false, nil
			}
			return false, fmt.Errorf("permissionship %q", r.Permissionship)
		},
	}
}

// ref turns "type:id" into a SpiceDB object reference.
func ref(object string) map[string]string {
	typ, id, _ := strings.Cut(object, ":")
	return map[string]string{"objectType": typ, "objectId": id}
}

// subject turns "type:id" or "type:id#relation" into a SpiceDB subject
// reference.
func subject(s string) map[string]any {
	obj, rel, _ := strings.Cut(s, "#")
	out := map[string]any{"object": ref(obj)}
	if rel != "" {
		out["optionalRelation"] = rel
	}
	return out
}
