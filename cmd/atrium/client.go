package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, key *string
}

// addClientFlags adds --server and --key to fs, defaulting to the
// environment.
func addClientFlags(fs *flag.FlagSet, getenv func(string) string) clientFlags {
	return clientFlags{
		server: fs.String("server", first(getenv("ATRIUM_SERVER"), "http://localhost:8080"), "server base URL (env ATRIUM_SERVER)"),
		key:    fs.String("key", getenv("ATRIUM_API_KEY"), "API key (env ATRIUM_API_KEY)"),
	}
}

// baseURL returns the server URL without a trailing slash, or an error
// when no API key was given.
func (c clientFlags) baseURL() (string, error) {
	if *c.key == "" {
		return "", errors.New("an API key is required: --key or ATRIUM_API_KEY")
	}
	return strings.TrimRight(*c.server, "/"), nil
}

// subcommand splits "GROUP SUB args…" into SUB and its arguments and
// returns a flag set for it that reports to stderr. With no SUB it prints
// usage and fails.
func subcommand(group string, args []string, usage string, stderr io.Writer) (string, []string, *flag.FlagSet, error) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return "", nil, nil, errUsage
	}
	fs := flag.NewFlagSet(group+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	return args[0], args[1:], fs, nil
}

// parseInterleaved parses fs from args, allowing flags before and after
// the positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}
