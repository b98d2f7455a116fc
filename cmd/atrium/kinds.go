package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
)

const kindsUsage = `usage:
  atrium kinds validate FILE                 check a document locally and list every problem
  atrium kinds diff FILE                     show what FILE changes in the live document, and whether it applies
  atrium kinds apply FILE [--dry-run]        apply FILE as the next version
  atrium kinds apply --version N [--dry-run] apply stored version N again (roll back)
  atrium kinds get [--version N]             print the live document, or version N
client flags: --server URL, --key KEY (or ATRIUM_SERVER, ATRIUM_API_KEY)
`

// kinds implements the `atrium kinds` commands. validate works offline;
// the others are clients of KindService.
func kinds(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, fs, err := subcommand("kinds", args, kindsUsage, stderr)
	if err != nil {
		return err
	}
	cf := addClientFlags(fs, getenv)
	dryRun := fs.Bool("dry-run", false, "check and report, store nothing (apply)")
	version := fs.Int64("version", 0, "a stored version (apply, get)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if sub == "validate" {
		if len(pos) != 1 {
			fmt.Fprint(stderr, kindsUsage)
			return errUsage
		}
		return validateKinds(pos[0], stdout, stderr)
	}
	base, err := cf.baseURL()
	if err != nil {
		return err
	}
	c := kindsClient{atriumv1connect.NewKindServiceClient(&http.Client{Timeout: 60 * time.Second}, base,
		connect.WithProtoJSON(), connect.WithInterceptors(bearer(*cf.key)))}
	switch {
	case sub == "get" && len(pos) == 0:
		doc, err := c.get(ctx, *version)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, doc.Document)
		return err
	case sub == "diff" && len(pos) == 1:
		return c.diff(ctx, pos[0], stdout)
	case sub == "apply" && (len(pos) == 1) != (*version != 0):
		var src []byte
		if *version != 0 {
			doc, err := c.get(ctx, *version)
			if err != nil {
				return err
			}
			src = []byte(doc.Document)
		} else if src, err = os.ReadFile(pos[0]); err != nil {
			return err
		}
		return c.apply(ctx, src, *dryRun, stdout)
	}
	fmt.Fprint(stderr, kindsUsage)
	return errUsage
}

// validateKinds implements `atrium kinds validate FILE`. It checks the
// document alone, relations included; compatibility with stored accounts
// is checked by the server (`kinds diff`).
func validateKinds(file string, stdout, stderr io.Writer) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	set, err := kind.Load(src, app.KindOptions())
	if err != nil {
		msg, vs := fault.PublicOf(err)
		fmt.Fprintf(stderr, "%s: %s\n", file, msg)
		for _, v := range vs {
			fmt.Fprintf(stderr, "  %s: %s\n", v.Field, v.Reason)
		}
		return fmt.Errorf("%s is not a valid kinds document (%d problems)", file, max(len(vs), 1))
	}
	fmt.Fprintf(stdout, "%s: valid; kinds: %v\n", file, set.Names())
	return nil
}

// kindsClient calls KindService.
type kindsClient struct {
	c atriumv1connect.KindServiceClient
}

func (k kindsClient) get(ctx context.Context, version int64) (*atriumv1.KindsDocument, error) {
	res, err := k.c.GetKinds(ctx, connect.NewRequest(&atriumv1.GetKindsRequest{Version: version}))
	if err != nil {
		return nil, clientError(err)
	}
	return res.Msg, nil
}

func (k kindsClient) put(ctx context.Context, src []byte, dryRun bool) (*atriumv1.PutKindsResponse, error) {
	res, err := k.c.PutKinds(ctx, connect.NewRequest(&atriumv1.PutKindsRequest{Document: string(src), DryRun: dryRun}))
	if err != nil {
		return nil, clientError(err)
	}
	return res.Msg, nil
}

// apply applies src and prints the version and the changes.
func (k kindsClient) apply(ctx context.Context, src []byte, dryRun bool, stdout io.Writer) error {
	res, err := k.put(ctx, src, dryRun)
	if err != nil {
		return err
	}
	switch {
	case dryRun:
		fmt.Fprintf(stdout, "dry run: the document applies to version %d as version %d\n", res.Version, res.Version+1)
	case !res.Applied:
		fmt.Fprintf(stdout, "unchanged: the document is version %d\n", res.Version)
	default:
		fmt.Fprintf(stdout, "applied version %d\n", res.Version)
	}
	printChanges(stdout, res.Changes)
	return nil
}

// diff prints the changes that file makes to the live document, computed
// locally so that they show even when the server refuses them, then asks
// the server (a dry run) whether they apply.
func (k kindsClient) diff(ctx context.Context, file string, stdout io.Writer) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	next, err := kind.Load(src, app.KindOptions())
	if err != nil {
		return clientFault(err)
	}
	live, err := k.get(ctx, 0)
	if err != nil {
		return err
	}
	cur, err := kind.Load([]byte(live.Document), kind.CompileOptions{})
	if err != nil {
		return clientFault(err)
	}
	fmt.Fprintf(stdout, "--- live version %d\n+++ %s\n", live.Version, file)
	io.WriteString(stdout, kind.DiffText(kind.Diff(cur, next)))
	if _, err := k.put(ctx, src, true); err != nil {
		return fmt.Errorf("the server refuses it: %w", err)
	}
	fmt.Fprintln(stdout, "the server accepts it")
	return nil
}

func printChanges(w io.Writer, changes []string) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no changes")
	}
	for _, c := range changes {
		fmt.Fprintln(w, c)
	}
}

// clientFault renders a local fault with its violations.
func clientFault(err error) error {
	msg, vs := fault.PublicOf(err)
	for _, v := range vs {
		msg += fmt.Sprintf("\n  %s: %s", v.Field, v.Reason)
	}
	return errors.New(msg)
}
