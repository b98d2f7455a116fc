// Package mail sends e-mail through an SMTP relay with the standard
// library's SMTP client (net/smtp). Messages are plain UTF-8 text; every
// header value is checked, so no input can add headers or recipients.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Message is one plain-text e-mail to one recipient.
type Message struct {
	To      string // an addr-spec, such as alice@example.com
	Subject string
	Text    string
}

// Limits on a message, checked before any connection is made.
const (
	maxSubject = 200
	maxText    = 64 << 10
)

// SMTP sends through one SMTP relay, over TLS: STARTTLS, or TLS from the
// first byte with ImplicitTLS. A relay that offers neither is refused
// unless Insecure allows it (a loopback relay in development and tests).
// Credentials are sent only over TLS (or to a loopback relay, as net/smtp
// allows).
type SMTP struct {
	Addr string // host:port of the relay
	From string // the sender's addr-spec
	// ImplicitTLS connects with TLS at once (port 465) instead of
	// STARTTLS.
	ImplicitTLS bool
	// Insecure allows delivery without TLS to a relay that does not offer
	// STARTTLS.
	Insecure bool
	Username string // optional, for PLAIN authentication
	Password string
	// Timeout bounds one delivery when ctx has no earlier deadline;
	// default 30 s.
	Timeout time.Duration
}

// Send delivers m. It returns fault.Invalid for a message whose recipient
// or subject is malformed, and fault.Unavailable when the relay cannot be
// reached or refuses the message.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	const op = "mail.Send"
	to, err := mail.ParseAddress(m.To)
	if err != nil || to.Name != "" || strings.ContainsAny(m.To, "\r\n<>") {
		return fault.E(op, fault.Invalid, "malformed recipient address")
	}
	if strings.ContainsAny(m.Subject, "\r\n") || len(m.Subject) > maxSubject || len(m.Text) > maxText {
		return fault.E(op, fault.Invalid, "malformed subject or text")
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.deliver(ctx, to.Address, compose(s.From, to.Address, m, time.Now())); err != nil {
		return fault.Wrap(op, fault.Unavailable, err)
	}
	return nil
}

func (s *SMTP) deliver(ctx context.Context, to string, msg []byte) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return err
	}
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	if s.ImplicitTLS {
		conn, err = (&tls.Dialer{Config: tlsConfig}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !s.ImplicitTLS {
		if err := c.StartTLS(tlsConfig); err != nil {
			return err
		}
	} else if !ok && !s.ImplicitTLS && !s.Insecure {
		return errNoTLS
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.From); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// errNoTLS refuses a relay that offers no STARTTLS, so a message (and its
// code) never crosses the network in the clear unless allowed.
var errNoTLS = errors.New("the SMTP relay does not offer STARTTLS; allow an insecure relay explicitly")

// compose renders the message with CRLF line ends; the SMTP client
// dot-stuffs the body.
func compose(from, to string, m Message, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\n", from, to, encodeSubject(m.Subject), now.UTC().Format(time.RFC1123Z))
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(text)
	if !strings.HasSuffix(text, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// encodeSubject encodes a subject that is not plain ASCII (RFC 2047).
func encodeSubject(s string) string {
	for _, r := range s {
		if r >= 0x80 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}
