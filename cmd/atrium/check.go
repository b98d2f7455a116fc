package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
)

// check implements `atrium check SUBJECT RELATION OBJECT`: it prints
// "allowed" or "denied" and exits 0 either way; errors exit 1.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", first(getenv("ATRIUM_SERVER"), "http://localhost:8080"), "server base URL (env ATRIUM_SERVER)")
	key := fs.String("key", getenv("ATRIUM_API_KEY"), "API key (env ATRIUM_API_KEY)")
	token := fs.String("freshness-token", "", "evaluate at least as fresh as this token")
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
	if len(pos) != 3 {
		fmt.Fprintln(stderr, "usage: atrium check SUBJECT RELATION OBJECT   (for example: atrium check user:usr_… member org:org_…)")
		return errUsage
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
	verdict := "denied"
	if res.Msg.Allowed {
		verdict = "allowed"
	}
	_, err = fmt.Fprintf(stdout, "%s (revision %d)\n", verdict, res.Msg.Revision)
	return err
}
