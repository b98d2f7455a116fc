// Command atrium is Atrium's server and command-line client. Run
// `atrium serve` to start the server; `atrium help` lists the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if err != errUsage {
			fmt.Fprintln(os.Stderr, "atrium:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: atrium COMMAND [flags]

Server:
  serve                      run the server (REST, gRPC, Connect on one port)
  migrate up                 apply database migrations
  admin-key create           create an admin API key and print it
  kinds validate FILE        check a kinds document and list every problem
  audit verify               check the audit chain and its signed checkpoints
  check --model FILE.fga [--tuples FILE] [--tuple T]... SUBJECT RELATION OBJECT
                             evaluate a check offline against an OpenFGA model and tuples

Client (talks to --server, default http://localhost:8080, with --key or ATRIUM_API_KEY):
  accounts create --kind KIND [--fragment NAME=JSON]... [--identifier TYPE=VALUE]...
  accounts get ID [--fragments a,b]
  accounts list --kind KIND [--state STATE] [--page-size N] [--page-token T]
  accounts password-hash ID HASH   import a legacy password hash (bcrypt, scrypt, pbkdf2-sha256, argon2i/id)
  kinds diff FILE            what FILE changes in the live document, and whether it applies
  kinds apply FILE [--dry-run] | --version N    apply a document, or a stored version again
  kinds get [--version N]    print the live kinds document, or version N
  check SUBJECT RELATION OBJECT    may SUBJECT do RELATION on OBJECT? prints allowed or denied

Run "atrium COMMAND -h" for a command's flags.
`

// errUsage reports a usage error whose text was already printed.
var errUsage = fmt.Errorf("usage")

// run is the whole program, with its environment passed in so that tests
// can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "admin-key":
		return adminKey(ctx, rest, getenv, stdout, stderr)
	case "kinds":
		return kinds(ctx, rest, getenv, stdout, stderr)
	case "accounts":
		return accounts(ctx, rest, getenv, stdout, stderr)
	case "check":
		return check(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return auditCmd(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "atrium: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}
