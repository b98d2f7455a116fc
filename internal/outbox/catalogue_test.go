package outbox_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/events.md from the code")

// entry is one event type found in the code.
type entry struct {
	typ    string
	fields []string
	where  []string
}

// catalogue finds every event type the code emits: calls of the account
// service's event helper (which prefixes "atrium.account." and adds kind
// and version to the data) and calls of outbox.New with a literal type.
// Data fields are the keys of a literal map argument.
func catalogue(t *testing.T, root string) []entry {
	t.Helper()
	found := map[string]*entry{}
	add := func(typ string, fields []string, where string) {
		e := found[typ]
		if e == nil {
			e = &entry{typ: typ}
			found[typ] = e
		}
		for _, f := range fields {
			if !slices.Contains(e.fields, f) {
				e.fields = append(e.fields, f)
			}
		}
		if !slices.Contains(e.where, where) {
			e.where = append(e.where, where)
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") || strings.Contains(path, "storetest") || strings.Contains(path, "testenv") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident: // account's event(ctx, tx, "typ", rec, now, data)
				if fn.Name == "event" && f.Name.Name == "account" && len(call.Args) == 6 {
					if typ, ok := literal(call.Args[2]); ok {
						add("atrium.account."+typ, append(mapKeys(call.Args[5]), "kind", "version"), filepath.ToSlash(rel))
					}
				}
			case *ast.SelectorExpr: // outbox.New("atrium.x.y", subject, now, data)
				if x, ok := fn.X.(*ast.Ident); ok && x.Name == "outbox" && fn.Sel.Name == "New" && len(call.Args) == 4 {
					if typ, ok := literal(call.Args[0]); ok {
						add(typ, mapKeys(call.Args[3]), filepath.ToSlash(rel))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, e := range found {
		slices.Sort(e.fields)
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.typ, b.typ) })
	return out
}

func literal(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func mapKeys(e ast.Expr) []string {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil
	}
	var keys []string
	for _, el := range cl.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if k, ok := literal(kv.Key); ok {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

const catalogueHead = `# Event catalogue

<!-- Generated from the code by ` + "`go test ./internal/outbox -run TestEventCatalogue -update`" + `; do not edit. -->

Every change to Atrium appends one event to the outbox in the transaction of
the change. Events are [CloudEvents 1.0](https://github.com/cloudevents/spec)
JSON in structured mode:

` + "```json" + `
{"specversion":"1.0","id":"evt_01…","source":"https://id.example.com","type":"atrium.account.created",
 "subject":"usr_01…","time":"2026-11-26T18:53:15.261206Z","datacontenttype":"application/json",
 "data":{"kind":"user","version":1,"fragments":{"profile":1}}}
` + "```" + `

- ` + "`id`" + ` is unique; every delivery path is at least once, so consumers dedupe by it.
- ` + "`subject`" + ` is the account the event is about; events of one account are
  delivered in the order they were committed.
- ` + "`source`" + ` is the server's public URL.
- ` + "`data`" + ` carries names, versions, states and identifier types, never the
  values of fragments or identifiers.

Where events go:

| path | how |
|---|---|
| ` + "`GET /v1/events?after=CURSOR`" + ` | pages of events after a cursor; ` + "`nextCursor`" + ` resumes |
| ` + "`GET /v1/events`" + ` with ` + "`Accept: text/event-stream`" + ` | server-sent events; each ` + "`id:`" + ` is a cursor, so ` + "`Last-Event-ID`" + ` resumes |
| NATS JetStream (` + "`--nats-url`" + `) | stream ` + "`ATRIUM`" + `, subject = the type (` + "`atrium.<kind>.<event>`" + `), header ` + "`Nats-Msg-Id`" + ` = the event id |
| webhooks (` + "`POST /v1/webhooks`" + `) | POST of the event, signed per Standard Webhooks (` + "`webhook-id`" + ` = the event id) |

## A worked example

What every consumer sees when a client runs these requests, one after the
other, on a new server (` + "`TestScriptedScenario`" + ` in ` + "`internal/app`" + ` runs them and
checks the outbox, a JetStream consumer and a webhook receiver against this
table). The subject of account events is the account; of relationship
events, the object (` + "`org:<id>`" + `); of kinds events, ` + "`kinds`" + `. Each
subject's events arrive in this order on ` + "`GET /v1/events`" + ` and NATS; webhook
deliveries run concurrently and may arrive out of order.

| step | request | events, in order |
|---|---|---|
| 1 | ` + "`POST /v1/accounts`" + ` a user with an e-mail address and a profile | ` + "`atrium.account.created`" + ` |
| 2 | ` + "`POST /v1/accounts`" + ` an org with a profile | ` + "`atrium.account.created`" + ` |
| 3 | ` + "`POST /v1/relationships:write`" + ` the user owns the org | ` + "`atrium.relationship.written`" + ` |
| 4 | ` + "`PATCH /v1/accounts/{org}/fragments/profile`" + ` | ` + "`atrium.account.fragment_updated`" + ` |
| 5 | ` + "`POST /v1/accounts/{user}/identifiers`" + ` a username | ` + "`atrium.account.identifier_added`" + ` |
| 6 | ` + "`POST /v1/accounts/{org}:transition`" + ` suspend | ` + "`atrium.account.transitioned`" + ` |
| 7 | ` + "`POST /v1/relationships:write`" + ` delete the ownership | ` + "`atrium.relationship.deleted`" + ` |
| 8 | ` + "`PUT /v1/kinds`" + ` a document adding a kind | ` + "`atrium.kinds.applied`" + ` |

The first kinds document of a database, installed by ` + "`atrium serve`" + ` at its
first start, is the database's initial state: it raises no event (its stored
version records it). Every later apply raises ` + "`atrium.kinds.applied`" + `.
Webhook subscriptions are configuration, not account state: their creation,
deletion and redeliveries are audited but raise no events.

## Types

| type | data fields | emitted in |
|---|---|---|
`

func renderCatalogue(es []entry) string {
	var b strings.Builder
	b.WriteString(catalogueHead)
	for _, e := range es {
		fields := make([]string, len(e.fields))
		for i, f := range e.fields {
			fields[i] = "`" + f + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", e.typ, strings.Join(fields, ", "), "`"+strings.Join(e.where, "`, `")+"`")
	}
	return b.String()
}

// TestEventCatalogue keeps docs/events.md equal to what the code emits.
func TestEventCatalogue(t *testing.T) {
	root := filepath.Join("..", "..")
	es := catalogue(t, root)
	if len(es) == 0 {
		t.Fatal("no event types found in the code")
	}
	want := renderCatalogue(es)
	path := filepath.Join(root, "docs", "events.md")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("docs/events.md is not what the code emits; run go test ./internal/outbox -run TestEventCatalogue -update")
	}
}
