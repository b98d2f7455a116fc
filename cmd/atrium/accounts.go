package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// accounts implements the `atrium accounts` client commands over the
// Connect protocol.
func accounts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, fs, err := subcommand("accounts", args, usage, stderr)
	if err != nil {
		return err
	}
	cf := addClientFlags(fs, getenv)
	kind := fs.String("kind", "", "account kind")
	state := fs.String("state", "", "lifecycle state (list)")
	pageSize := fs.Int("page-size", 0, "page size (list)")
	pageToken := fs.String("page-token", "", "page token (list)")
	selected := fs.String("fragments", "", "comma-separated fragment names (get)")
	var frags, idents listFlag
	fs.Var(&frags, "fragment", "NAME=JSON object (create; repeatable)")
	fs.Var(&idents, "identifier", "TYPE=VALUE (create; repeatable)")
	// Flags may come before or after the positional ID.
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	base, err := cf.baseURL()
	if err != nil {
		return err
	}
	client := atriumv1connect.NewAccountServiceClient(&http.Client{Timeout: 30 * time.Second}, base,
		connect.WithProtoJSON(), connect.WithInterceptors(bearer(*cf.key)))

	var msg proto.Message
	switch sub {
	case "create":
		req := &atriumv1.CreateAccountRequest{Kind: *kind, Fragments: map[string]*structpb.Struct{}}
		for _, f := range frags {
			name, js, ok := strings.Cut(f, "=")
			s := &structpb.Struct{}
			if !ok || protojson.Unmarshal([]byte(js), s) != nil {
				return fmt.Errorf("--fragment %q: want NAME=JSON object", name)
			}
			req.Fragments[name] = s
		}
		for _, i := range idents {
			t, v, ok := strings.Cut(i, "=")
			if !ok {
				return fmt.Errorf("--identifier: want TYPE=VALUE")
			}
			req.Identifiers = append(req.Identifiers, &atriumv1.IdentifierInput{Type: t, Value: v})
		}
		var res *connect.Response[atriumv1.Account]
		if res, err = client.CreateAccount(ctx, connect.NewRequest(req)); err == nil {
			msg = res.Msg
		}
	case "get":
		if len(pos) != 1 {
			return errors.New("usage: atrium accounts get ID [--fragments a,b]")
		}
		req := &atriumv1.GetAccountRequest{Id: pos[0]}
		if *selected != "" {
			req.Fragments = strings.Split(*selected, ",")
		}
		var res *connect.Response[atriumv1.Account]
		if res, err = client.GetAccount(ctx, connect.NewRequest(req)); err == nil {
			msg = res.Msg
		}
	case "password-hash":
		if len(pos) != 2 {
			return errors.New("usage: atrium accounts password-hash ID HASH")
		}
		auth := atriumv1connect.NewAuthServiceClient(&http.Client{Timeout: 30 * time.Second}, base,
			connect.WithProtoJSON(), connect.WithInterceptors(bearer(*cf.key)))
		var res *connect.Response[atriumv1.ImportPasswordHashResponse]
		if res, err = auth.ImportPasswordHash(ctx, connect.NewRequest(&atriumv1.ImportPasswordHashRequest{AccountId: pos[0], PasswordHash: pos[1]})); err == nil {
			msg = res.Msg
		}
	case "list":
		req := &atriumv1.ListAccountsRequest{Kind: *kind, State: *state, PageSize: int32(*pageSize), PageToken: *pageToken}
		var res *connect.Response[atriumv1.ListAccountsResponse]
		if res, err = client.ListAccounts(ctx, connect.NewRequest(req)); err == nil {
			msg = res.Msg
		}
	default:
		fmt.Fprintf(stderr, "atrium: unknown accounts command %q\n\n%s", sub, usage)
		return errUsage
	}
	if err != nil {
		return clientError(err)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// bearer adds the API key to every request.
func bearer(key string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}
}

// clientError renders a Connect error with its field violations.
func clientError(err error) error {
	ce, ok := errors.AsType[*connect.Error](err)
	if !ok {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", ce.Code(), ce.Message())
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if br, ok := v.(*atriumv1.BadRequest); ok {
				for _, fv := range br.FieldViolations {
					fmt.Fprintf(&b, "\n  %s: %s", fv.Field, fv.Reason)
				}
			}
		}
	}
	return errors.New(b.String())
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
