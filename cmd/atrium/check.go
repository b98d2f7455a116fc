package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/relation"
)

const checkUsage = `usage:
  atrium check SUBJECT RELATION OBJECT                  ask the server (--server, --key)
  atrium check --model FILE.fga [--tuples FILE] [--tuple T]... SUBJECT RELATION OBJECT
                                                        evaluate locally, against an OpenFGA model and tuples
for example: atrium check user:usr_… member org:org_…
`

// check implements `atrium check SUBJECT RELATION OBJECT`: it prints
// "allowed" or "denied" and exits 0 either way; errors exit 1. With
// --model it evaluates offline, against a standalone .fga model and the
// tuples given, without a server.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", first(getenv("ATRIUM_SERVER"), "http://localhost:8080"), "server base URL (env ATRIUM_SERVER)")
	key := fs.String("key", getenv("ATRIUM_API_KEY"), "API key (env ATRIUM_API_KEY)")
	token := fs.String("freshness-token", "", "evaluate at least as fresh as this token")
	model := fs.String("model", "", "evaluate locally against this OpenFGA model file (.fga, schema 1.1)")
	tuplesFile := fs.String("tuples", "", "with --model: a file of tuples, one object#relation@subject per line (# starts a comment line)")
	var inline listFlag
	fs.Var(&inline, "tuple", "with --model: one tuple object#relation@subject (repeatable)")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 3 || *model == "" && (*tuplesFile != "" || len(inline) > 0) {
		fmt.Fprint(stderr, checkUsage)
		return errUsage
	}
	if *model != "" {
		allowed, err := checkLocal(ctx, *model, *tuplesFile, inline, pos)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, verdict(allowed))
		return err
	}
	if *key == "" {
		return errors.New("an API key is required: --key or ATRIUM_API_KEY")
	}
	client := atriumv1connect.NewRelationServiceClient(&http.Client{Timeout: 30 * time.Second}, strings.TrimRight(*server, "/"),
		connect.WithProtoJSON(), connect.WithInterceptors(bearer(*key)))
	res, err := client.Check(ctx, connect.NewRequest(&atriumv1.CheckRequest{Subject: pos[0], Relation: pos[1], Object: pos[2], FreshnessToken: *token}))
	if err != nil {
		return clientError(err)
	}
	_, err = fmt.Fprintf(stdout, "%s (revision %d)\n", verdict(res.Msg.Allowed), res.Msg.Revision)
	return err
}

func verdict(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

// checkLocal answers the check q (subject, relation, object) against the
// model in modelFile and the tuples of tuplesFile (if any) and inline.
func checkLocal(ctx context.Context, modelFile, tuplesFile string, inline, q []string) (bool, error) {
	src, err := readLimited(modelFile, relation.MaxModelBytes)
	if err != nil {
		return false, err
	}
	m, err := relation.ParseModel(src)
	if err != nil {
		return false, fmt.Errorf("%s: %s", modelFile, public(err))
	}
	var ts []relation.Tuple
	if tuplesFile != "" {
		text, err := readLimited(tuplesFile, relation.MaxTupleListBytes)
		if err != nil {
			return false, err
		}
		if ts, err = relation.ParseTupleList(text); err != nil {
			return false, fmt.Errorf("%s: %s", tuplesFile, public(err))
		}
	}
	for _, s := range inline {
		t, err := relation.ParseTuple(s)
		if err != nil {
			return false, fmt.Errorf("--tuple: %s", public(err))
		}
		ts = append(ts, t)
	}
	for _, t := range ts {
		if err := m.ValidateTuple(t); err != nil {
			return false, errors.New(public(err)) // names the tuple
		}
	}
	sub, err := relation.ParseSubject(q[0])
	if err != nil {
		return false, fmt.Errorf("subject: %s", public(err))
	}
	obj, err := relation.ParseObject(q[2])
	if err != nil {
		return false, fmt.Errorf("object: %s", public(err))
	}
	allowed, err := relation.Check(ctx, m, relation.NewMemoryTuples(ts...), relation.CheckRequest{Subject: sub, Relation: q[1], Object: obj})
	if err != nil {
		return false, errors.New(public(err))
	}
	return allowed, nil
}

// public returns the message of err meant for users.
func public(err error) string {
	msg, _ := fault.PublicOf(err)
	return msg
}

// readLimited reads a file of at most limit bytes.
func readLimited(name string, limit int) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return "", err
	}
	if len(b) > limit {
		return "", fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return string(b), nil
}
