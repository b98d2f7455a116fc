package mail_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/mail"
	"github.com/atriumid/atrium/internal/testenv"
)

func TestSendOverSMTP(t *testing.T) {
	srv := testenv.StartSMTP(t)
	// The test relay offers no STARTTLS: refused unless allowed.
	plain := &mail.SMTP{Addr: srv.Addr(), From: "atrium@example.org"}
	if err := plain.Send(context.Background(), mail.Message{To: "alice@example.com", Subject: "s", Text: "code 1"}); !fault.Is(err, fault.Unavailable) || len(srv.Messages()) != 0 {
		t.Fatalf("Send to a relay without STARTTLS = %v, %d delivered; want Unavailable and none", err, len(srv.Messages()))
	}
	s := &mail.SMTP{Addr: srv.Addr(), From: "atrium@example.org", Insecure: true}
	err := s.Send(context.Background(), mail.Message{To: "alice@example.com", Subject: "Vérification", Text: "Your code is 12345678.\n.\nA line with a dot above."})
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "atrium@example.org" || got[0].To != "alice@example.com" {
		t.Fatalf("received %+v", got)
	}
	d := got[0].Data
	for _, want := range []string{"To: alice@example.com\r\n", "Subject: =?utf-8?q?V=C3=A9rification?=\r\n", "\r\n\r\nYour code is 12345678.\r\n.\r\nA line"} {
		if !strings.Contains(d, want) {
			t.Errorf("message %q lacks %q", d, want)
		}
	}
}

// Header injection: no recipient or subject can add a header or a
// recipient.
func TestSendRefusesInjection(t *testing.T) {
	s := &mail.SMTP{Addr: "127.0.0.1:1", From: "atrium@example.org"}
	for _, m := range []mail.Message{
		{To: "a@example.com\r\nBcc: b@example.com", Subject: "x"},
		{To: "Alice <a@example.com>", Subject: "x"},
		{To: "a@example.com", Subject: "x\r\nBcc: b@example.com"},
		{To: "not an address", Subject: "x"},
	} {
		if err := s.Send(context.Background(), m); !fault.Is(err, fault.Invalid) {
			t.Errorf("Send(%q, %q) = %v, want Invalid", m.To, m.Subject, err)
		}
	}
}

func TestSendUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := &mail.SMTP{Addr: addr, From: "atrium@example.org", Timeout: time.Second}
	if err := s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x", Text: "y"}); !fault.Is(err, fault.Unavailable) {
		t.Errorf("Send(closed port) = %v, want Unavailable", err)
	}
}
